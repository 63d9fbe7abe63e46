// Tensor, Shape and NamedTensors are public (include/kiln/tensor.h). kiln's own code includes them
// from here, with Buffer (views over mmap'd weights) and the error helpers they go with.
#pragma once
#include "core/buffer.h"
#include "core/dtype.h"
#include "core/error.h"
#include "kiln/tensor.h"
