
fuzz: deps
	@scripts/fuzz $(FUZZ_SECONDS)
