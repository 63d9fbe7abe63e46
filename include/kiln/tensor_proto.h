// kiln/tensor_proto.h: one tensor from a file holding a serialized ONNX TensorProto, as ONNX's
// backend tests store their data (test_data_set_0/input_0.pb, output_0.pb) and as numpy_helper /
// onnx.save_tensor write it.
//
//   std::string name;
//   kiln::Tensor x = kiln::read_tensor_proto("test_data_set_0/input_0.pb", &name);
//   kiln::NamedTensors out = session.run({{name, x}});
#pragma once
#include <string>

#include "kiln/api.h"
#include "kiln/tensor.h"

namespace kiln {

// The tensor in `path`, in CPU memory: from raw_data, the typed fields (float_data, int32_data ...)
// or external data (a location inside the file's folder, memory-mapped). `name`, when given,
// receives the proto's name (empty when it has none). Throws IoError when a file cannot be read,
// BadInput when `path` is not a TensorProto, BadModel when its data do not fit its shape,
// Unsupported for an element type kiln does not hold.
KILN_API Tensor read_tensor_proto(const std::string& path, std::string* name = nullptr);

}  // namespace kiln
