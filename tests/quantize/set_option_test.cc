// kiln::quantize::set_option(): quantization settings parsed from strings by name, as
// include/kiln/quantize.h documents them.
#include <gtest/gtest.h>

#include "kiln/error.h"
#include "kiln/quantize.h"

using namespace kiln::quantize;

TEST(SetOption, ParsesEachKindOfValueByName) {
  Options o = preset_options("avx512_vnni", false);
  set_option(o, "per_channel", "true");
  set_option(o, "--reduce-range", "1");
  set_option(o, "weight_type", "uint8");
  set_option(o, "--activation-type", "s8");
  set_option(o, "format", "qdq");
  set_option(o, "calibration_method", "percentile");
  set_option(o, "percentile", "99.9");
  set_option(o, "calibration_samples", "16");
  set_option(o, "nodes_to_exclude", "a,b");
  set_option(o, "share_weights", "false");
  EXPECT_TRUE(o.per_channel);
  EXPECT_TRUE(o.reduce_range);
  EXPECT_EQ(o.weight_type, kiln::DType::U8);
  EXPECT_EQ(o.activation_type, kiln::DType::I8);
  EXPECT_EQ(o.format, Format::QDQ);
  EXPECT_EQ(o.calibration_method, CalibrationMethod::Percentile);
  EXPECT_DOUBLE_EQ(o.percentile, 99.9);
  EXPECT_EQ(o.calibration_samples, 16);
  EXPECT_EQ(o.nodes_to_exclude, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(o.share_weights);
}

TEST(SetOption, OpsTakeGatherAsEmbeddingsAndLeaveAddFloat) {
  Options o;
  set_option(o, "ops", "MatMul,Add,Gather");
  EXPECT_EQ(o.op_types, (std::vector<std::string>{"MatMul"}));
  EXPECT_TRUE(o.quantize_embeddings);
}

TEST(SetOption, RefusesBadValuesNamingTheOptionAsGiven) {
  Options o;
  auto message = [&](const std::string& name, const std::string& value) {
    try {
      set_option(o, name, value);
    } catch (const kiln::BadInput& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("--format", "zip").find("--format"), std::string::npos);
  EXPECT_NE(message("--format", "zip").find("zip"), std::string::npos);
  EXPECT_NE(message("weight_type", "int4").find("weight_type"), std::string::npos);
  EXPECT_NE(message("ops", "Conv").find("Conv"), std::string::npos);
  EXPECT_NE(message("threads", "two").find("threads"), std::string::npos);
  EXPECT_NE(message("per_channel", "yes").find("per_channel"), std::string::npos);
  EXPECT_NE(message("min_embedding_elements", "-1").find("min_embedding_elements"), std::string::npos);
  EXPECT_NE(message("colour", "blue").find("colour"), std::string::npos);
}
