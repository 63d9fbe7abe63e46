// The Tokenizer interface is public (include/kiln/tokenizer.h); kiln's own code includes it from here.
#pragma once
#include "kiln/tokenizer.h"
