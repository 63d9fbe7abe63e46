// Options, Format and CalibrationMethod are public (include/kiln/quantize.h); the quantizer's
// files include them from here.
#pragma once
#include "core/dtype.h"
#include "kiln/quantize.h"
