#include "ggml_type.h"
#include "test_util.h"

TEST_CASE("ggml type table matches ggml-common.h block sizes") {
  CHECK(vkg::ggml_type_info(vkg::GgmlType::Q4_K).block_bytes == 2 + 2 + 12 + 128);
  CHECK(vkg::ggml_type_info(vkg::GgmlType::Q6_K).block_bytes == 128 + 64 + 16 + 2);
  CHECK(vkg::ggml_type_info(vkg::GgmlType::Q8_0).block_bytes == 2 + 32);
  CHECK(vkg::ggml_row_bytes(vkg::GgmlType::Q4_0, 64) == 36);
  CHECK_THROWS(vkg::ggml_row_bytes(vkg::GgmlType::Q4_0, 33));
  CHECK(vkg::ggml_type_from_name("q4_k") == vkg::GgmlType::Q4_K);
  CHECK(!vkg::ggml_type_info(4u).has_value());
}
