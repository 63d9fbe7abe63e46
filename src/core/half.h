// Half and BFloat16 are public (include/kiln/half.h); kiln's own code includes them from here.
#pragma once
#include "kiln/half.h"
