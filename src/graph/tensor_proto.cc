// kiln/tensor_proto.h: the public reader of one TensorProto file, over the loader's.
#include "kiln/tensor_proto.h"

#include "graph/onnx_io.h"

namespace kiln {

Tensor read_tensor_proto(const std::string& path, std::string* name) { return load_tensor_pb(path, name); }

}  // namespace kiln
