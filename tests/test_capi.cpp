// The C API (include/vkgemma.h, libvkgemma.so): documented status codes for misuse, versioned
// structs, tokenizer/chat helpers against host/, generation equal to the C++ Session, two sessions
// of one model on two threads, device memory for the weights counted once.
// This executable links libvkgemma.so (its own hidden copy of host/ and runtime/) and, through
// vkg_test_main, the static host/ library used as the C++ reference.
#include <fmt/format.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "chat.h"
#include "gemma4_config.h"
#include "gguf.h"
#include "gguf_vocab.h"
#include "forward.h"
#include "residency.h"
#include "gguf_fixture.h"
#include "gpu.h"
#include "session.h"
#include "synth.h"
#include "test_util.h"
#include "vkgemma.h"

namespace {

std::string model_path() { return (vkg::test::shared_dir() / "golden" / "tiny_q8_0" / "model.gguf").string(); }

uint64_t validation_count() {
  uint64_t n = 0;
  REQUIRE(vkgemma_validation_message_count(&n) == VKGEMMA_OK);
  return n;
}

/// Fails the test case when the library's validation layer reported anything meanwhile.
struct CapiValidationGuard {
  uint64_t start = validation_count();
  ~CapiValidationGuard() { CHECK_MESSAGE(validation_count() == start, "validation messages in libvkgemma"); }
};

struct ModelHandle {
  vkgemma_model* m = nullptr;
  explicit ModelHandle(const vkgemma_model_params* p = nullptr) {
    const vkgemma_status s = vkgemma_model_load(model_path().c_str(), p, &m);
    REQUIRE_MESSAGE(s == VKGEMMA_OK, vkgemma_status_string(s), ": ", vkgemma_last_error());
  }
  ~ModelHandle() { CHECK(vkgemma_model_free(m) == VKGEMMA_OK); }
  ModelHandle(const ModelHandle&) = delete;
  ModelHandle& operator=(const ModelHandle&) = delete;
};

struct SessionHandle {
  vkgemma_session* s = nullptr;
  SessionHandle(vkgemma_model* m, uint32_t n_ctx, uint32_t n_batch = 512) {
    vkgemma_session_params p = {sizeof p};
    REQUIRE(vkgemma_session_default_params(&p) == VKGEMMA_OK);
    p.n_ctx = n_ctx;
    p.n_batch = n_batch;
    const vkgemma_status st = vkgemma_session_create(m, &p, &s);
    REQUIRE_MESSAGE(st == VKGEMMA_OK, vkgemma_status_string(st), ": ", vkgemma_last_error());
  }
  ~SessionHandle() { CHECK(vkgemma_session_free(s) == VKGEMMA_OK); }
  SessionHandle(const SessionHandle&) = delete;
  SessionHandle& operator=(const SessionHandle&) = delete;
};

std::vector<int32_t> tokenize(const vkgemma_model* m, const std::string& text, uint32_t flags) {
  size_t n = 0;
  vkgemma_status s = vkgemma_tokenize(m, text.data(), text.size(), flags, nullptr, 0, &n);
  REQUIRE((s == VKGEMMA_OK || s == VKGEMMA_BUFFER_TOO_SMALL));
  std::vector<int32_t> ids(n);
  REQUIRE(vkgemma_tokenize(m, text.data(), text.size(), flags, ids.data(), ids.size(), &n) == VKGEMMA_OK);
  REQUIRE(n == ids.size());
  return ids;
}

struct Generated {
  std::vector<int32_t> tokens;
  std::string text;
  vkgemma_stop_reason stop = VKGEMMA_STOP_MAX_TOKENS;
  vkgemma_status status = VKGEMMA_OK;
};

bool collect(int32_t token, const char* piece, size_t len, void* user) {
  auto* g = static_cast<Generated*>(user);
  if (token >= 0) g->tokens.push_back(token);
  g->text.append(piece, len);
  return true;
}

Generated generate(vkgemma_session* s, const std::vector<int32_t>& prompt, int32_t n_predict, uint64_t seed) {
  vkgemma_sampler_params sp = {sizeof sp};
  REQUIRE(vkgemma_sampler_default_params(&sp) == VKGEMMA_OK);
  sp.n_predict = n_predict;
  sp.seed = seed;
  Generated g;
  g.status = vkgemma_generate(s, prompt.data(), prompt.size(), &sp, collect, &g, &g.stop);
  return g;
}

vkgemma_stats stats_of(const vkgemma_session* s) {
  vkgemma_stats st = {sizeof st};
  REQUIRE(vkgemma_session_get_stats(s, &st) == VKGEMMA_OK);
  return st;
}

}  // namespace

TEST_CASE("version, status strings and default params") {
  CHECK(std::string(vkgemma_version()) == VKG_PROJECT_VERSION);
  for (int s = VKGEMMA_OK; s <= VKGEMMA_UNSUPPORTED; ++s)
    CHECK(std::string(vkgemma_status_string(static_cast<vkgemma_status>(s))).rfind("VKGEMMA_", 0) == 0);
  CHECK(std::string(vkgemma_status_string(static_cast<vkgemma_status>(999))) == "unknown status");

  vkgemma_model_params mp = {sizeof mp};
  REQUIRE(vkgemma_model_default_params(&mp) == VKGEMMA_OK);
  CHECK(mp.struct_size == sizeof mp);
  CHECK(mp.device_index == -1);
  CHECK(mp.n_ctx == 4096);
  CHECK(mp.device_memory_budget == 0);
  CHECK((mp.progress_callback == nullptr));

  vkgemma_session_params sp = {sizeof sp};
  REQUIRE(vkgemma_session_default_params(&sp) == VKGEMMA_OK);
  CHECK(sp.n_ctx == 0);
  CHECK(sp.n_batch == 512);

  vkgemma_sampler_params smp = {sizeof smp};
  REQUIRE(vkgemma_sampler_default_params(&smp) == VKGEMMA_OK);
  CHECK(smp.n_predict == 128);
  CHECK(smp.seed == 0);
  CHECK(smp.temperature == doctest::Approx(0.8));
  CHECK(smp.top_k == 40);
  CHECK(smp.top_p == doctest::Approx(0.95));
  CHECK(smp.min_p == doctest::Approx(0.05));
  CHECK(smp.repeat_penalty == 1.0f);
  CHECK(smp.penalty_last_n == 64);

  SUBCASE("struct_size rules") {
    CHECK(vkgemma_model_default_params(nullptr) == VKGEMMA_INVALID_ARGUMENT);
    vkgemma_model_params small{};
    small.struct_size = 0;
    small.n_ctx = 77;
    CHECK(vkgemma_model_default_params(&small) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(small.n_ctx == 77);  // nothing written
    CHECK(std::string(vkgemma_last_error()).find("struct_size") != std::string::npos);
    // A newer caller's larger struct: known members filled, the unknown tail zeroed, size kept.
    struct Bigger {
      vkgemma_sampler_params p;
      unsigned char tail[32];
    } big;
    std::memset(&big, 0xAB, sizeof big);
    big.p.struct_size = sizeof big;
    REQUIRE(vkgemma_sampler_default_params(&big.p) == VKGEMMA_OK);
    CHECK(big.p.struct_size == sizeof big);
    CHECK(big.p.top_k == 40);
    for (unsigned char c : big.tail) CHECK(c == 0);
  }
}

TEST_CASE("API misuse returns the documented errors") {
  SUBCASE("NULL handles and pointers") {
    vkgemma_model* m = reinterpret_cast<vkgemma_model*>(0x1);
    CHECK(vkgemma_model_load(nullptr, nullptr, &m) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(m == nullptr);  // outputs cleared on failure
    CHECK(vkgemma_model_load("x.gguf", nullptr, nullptr) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(vkgemma_model_free(nullptr) == VKGEMMA_OK);
    CHECK(vkgemma_session_free(nullptr) == VKGEMMA_OK);

    vkgemma_session* s = reinterpret_cast<vkgemma_session*>(0x1);
    CHECK(vkgemma_session_create(nullptr, nullptr, &s) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(s == nullptr);
    CHECK(std::string(vkgemma_last_error()).rfind("vkgemma_session_create: ", 0) == 0);

    // Generating before anything was loaded.
    const int32_t ids[2] = {2, 5};
    vkgemma_stop_reason stop = VKGEMMA_STOP_CALLBACK;
    CHECK(vkgemma_generate(nullptr, ids, 2, nullptr, nullptr, nullptr, &stop) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(stop == VKGEMMA_STOP_CALLBACK);  // untouched
    CHECK(std::string(vkgemma_last_error()) == "vkgemma_generate: session is NULL");
    CHECK(vkgemma_session_eval(nullptr, ids, 2) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(vkgemma_session_reset(nullptr) == VKGEMMA_INVALID_ARGUMENT);
    vkgemma_stats st = {sizeof st};
    CHECK(vkgemma_session_get_stats(nullptr, &st) == VKGEMMA_INVALID_ARGUMENT);
    vkgemma_model_info info = {sizeof info};
    CHECK(vkgemma_model_get_info(nullptr, &info) == VKGEMMA_INVALID_ARGUMENT);
    size_t n = 0;
    CHECK(vkgemma_tokenize(nullptr, "a", 1, 0, nullptr, 0, &n) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(vkgemma_detokenize(nullptr, ids, 2, 0, nullptr, 0, &n) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(vkgemma_device_count(nullptr) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(vkgemma_validation_message_count(nullptr) == VKGEMMA_INVALID_ARGUMENT);
  }
  SUBCASE("pointers that are not handles") {
    alignas(16) unsigned char junk[256] = {};
    CHECK(vkgemma_model_free(reinterpret_cast<vkgemma_model*>(junk)) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(vkgemma_session_reset(reinterpret_cast<vkgemma_session*>(junk)) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(vkgemma_session_free(reinterpret_cast<vkgemma_session*>(junk)) == VKGEMMA_INVALID_ARGUMENT);
  }
  SUBCASE("devices") {
    uint32_t count = 0;
    REQUIRE(vkgemma_device_count(&count) == VKGEMMA_OK);
    REQUIRE(count >= 1);
    int defaults = 0;
    for (uint32_t i = 0; i < count; ++i) {
      vkgemma_device_info d = {sizeof d};
      REQUIRE(vkgemma_device_get_info(i, &d) == VKGEMMA_OK);
      CHECK(d.index == i);
      CHECK(std::strlen(d.name) > 0);
      CHECK(d.device_local_bytes > 0);
      CHECK(d.subgroup_size >= 1);
      CHECK(d.struct_size == sizeof d);
      defaults += d.is_default;
      MESSAGE(fmt::format("device {}: {} ({}), usable {}", i, d.name, d.driver_name, d.usable));
    }
    CHECK(defaults == 1);
    vkgemma_device_info d = {sizeof d};
    CHECK(vkgemma_device_get_info(count, &d) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(vkgemma_device_get_info(0, nullptr) == VKGEMMA_INVALID_ARGUMENT);
    vkgemma_model_params mp = {sizeof mp};
    REQUIRE(vkgemma_model_default_params(&mp) == VKGEMMA_OK);
    mp.device_index = static_cast<int32_t>(count);
    vkgemma_model* m = nullptr;
    // the path is checked first: use a file that exists
    CHECK(vkgemma_model_load(VKG_SOURCE_DIR "/CMakeLists.txt", &mp, &m) == VKGEMMA_INVALID_ARGUMENT);
    mp.device_index = -2;
    CHECK(vkgemma_model_load(VKG_SOURCE_DIR "/CMakeLists.txt", &mp, &m) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(m == nullptr);
  }
  SUBCASE("files that are not models") {
    CapiValidationGuard guard;
    vkgemma_model* m = nullptr;
    CHECK(vkgemma_model_load("/nonexistent/model.gguf", nullptr, &m) == VKGEMMA_FILE_ERROR);
    CHECK(std::string(vkgemma_last_error()).find("cannot open") != std::string::npos);
    CHECK(vkgemma_model_load(VKG_SOURCE_DIR, nullptr, &m) == VKGEMMA_FILE_ERROR);  // a directory
    auto dir = vkg::test::scratch_dir("capi_files");
    std::ofstream(dir / "text.gguf") << "this is not a GGUF file\n";
    CHECK(vkgemma_model_load((dir / "text.gguf").c_str(), nullptr, &m) == VKGEMMA_MODEL_ERROR);
    CHECK(std::string(vkgemma_last_error()).find("not a GGUF") != std::string::npos);
    CHECK(m == nullptr);
  }
  SUBCASE("chat formatting needs no model") {
    const vkgemma_chat_message msgs[2] = {{"system", "Be brief."}, {"user", "Why is the sky blue?"}};
    const uint32_t flags = VKGEMMA_CHAT_ADD_GENERATION_PROMPT;
    size_t len = 0;
    CHECK(vkgemma_chat_format(nullptr, msgs, 2, flags, nullptr, 0, &len) == VKGEMMA_BUFFER_TOO_SMALL);
    const std::string want = vkg::format_chat(
        nlohmann::json::array({{{"role", "system"}, {"content", "Be brief."}},
                               {{"role", "user"}, {"content", "Why is the sky blue?"}}}),
        nullptr, {.add_generation_prompt = true, .enable_thinking = false});
    REQUIRE(len == want.size());
    std::vector<char> buf(len + 1, 'x');
    CHECK(vkgemma_chat_format(nullptr, msgs, 2, flags, buf.data(), len, &len) == VKGEMMA_BUFFER_TOO_SMALL);
    CHECK(buf[0] == 'x');  // not written
    REQUIRE(vkgemma_chat_format(nullptr, msgs, 2, flags, buf.data(), buf.size(), &len) == VKGEMMA_OK);
    CHECK(std::string(buf.data()) == want);
    CHECK(want.rfind("<bos>", 0) == 0);

    const std::string think = vkg::format_chat(
        nlohmann::json::array({{{"role", "user"}, {"content", "Hi"}}}), nullptr,
        {.add_generation_prompt = true, .enable_thinking = true});
    const vkgemma_chat_message hi = {"user", "Hi"};
    std::vector<char> tb(think.size() + 1);
    REQUIRE(vkgemma_chat_format(nullptr, &hi, 1, flags | VKGEMMA_CHAT_THINKING, tb.data(), tb.size(), &len) ==
            VKGEMMA_OK);
    CHECK(std::string(tb.data()) == think);

    const vkgemma_chat_message bad = {nullptr, "x"};
    CHECK(vkgemma_chat_format(nullptr, &bad, 1, 0, nullptr, 0, &len) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(vkgemma_chat_format(nullptr, msgs, 2, 1u << 7, nullptr, 0, &len) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(vkgemma_chat_format(nullptr, msgs, 2, 0, nullptr, 0, nullptr) == VKGEMMA_INVALID_ARGUMENT);
  }
}

TEST_CASE("model load: progress, cancel, info, tokenizer") {
  VKG_REQUIRE_SHARED();
  CapiValidationGuard guard;
  struct Progress {
    std::vector<float> seen;
    float cancel_above = 2;  // never
  };
  auto cb = [](float p, void* user) {
    auto* pr = static_cast<Progress*>(user);
    pr->seen.push_back(p);
    return p <= pr->cancel_above;
  };
  vkgemma_model_params mp = {sizeof mp};
  REQUIRE(vkgemma_model_default_params(&mp) == VKGEMMA_OK);
  mp.progress_callback = cb;

  SUBCASE("cancelled before any work") {
    Progress pr{.cancel_above = -1};
    mp.progress_user_data = &pr;
    vkgemma_model* m = reinterpret_cast<vkgemma_model*>(0x1);
    CHECK(vkgemma_model_load(model_path().c_str(), &mp, &m) == VKGEMMA_CANCELLED);
    CHECK(m == nullptr);
    CHECK(pr.seen == std::vector<float>{0.0f});
  }
  SUBCASE("cancelled half-way through the upload") {
    Progress pr{.cancel_above = 0.3f};
    mp.progress_user_data = &pr;
    vkgemma_model* m = nullptr;
    CHECK(vkgemma_model_load(model_path().c_str(), &mp, &m) == VKGEMMA_CANCELLED);
    CHECK(m == nullptr);
    CHECK(pr.seen.size() >= 2);
    CHECK(pr.seen.back() > 0.3f);
    CHECK(std::string(vkgemma_last_error()).find("cancelled") != std::string::npos);
  }
  SUBCASE("a small memory budget streams layers, refuses a session past it, and refuses a budget too small") {
    // Fits the embeddings, a session of 256 positions and the two-layer window, not all layers.
    auto file = vkg::GgufFile::open(model_path());
    const auto g = vkg::load_gemma4(file);
    const vkg::ForwardOptions fo{.n_ctx = 256, .max_batch = 512};
    vkg::Device& dev = vkg::test::device();
    const vkg::ResidencyPlan all =
        vkg::plan_residency(dev.caps(), dev.allocator().rules(), g,
                            {.available = 1ull << 40, .session_bytes = vkg::Gemma4Forward::estimate_session_bytes(dev, g, fo)});
    mp.progress_callback = nullptr;
    mp.n_ctx = 256;
    mp.device_memory_budget = all.device_bytes() - all.resident_layer_bytes / 2;
    ModelHandle mh(&mp);
    vkgemma_model_info info = {sizeof info};
    REQUIRE(vkgemma_model_get_info(mh.m, &info) == VKGEMMA_OK);
    CHECK(info.n_layer_resident < info.n_layer);
    CHECK(info.streamed_bytes_per_step > 0);
    vkgemma_session_params sp = {sizeof sp};
    REQUIRE(vkgemma_session_default_params(&sp) == VKGEMMA_OK);
    vkgemma_session* s = nullptr;
    REQUIRE(vkgemma_session_create(mh.m, &sp, &s) == VKGEMMA_OK);  // n_ctx 0: the model's 256
    vkgemma_session* s2 = nullptr;
    CHECK(vkgemma_session_create(mh.m, &sp, &s2) == VKGEMMA_OUT_OF_MEMORY);  // a second one does not fit
    CHECK(std::string(vkgemma_last_error()).find("budget") != std::string::npos);
    CHECK(s2 == nullptr);
    CHECK(vkgemma_session_free(s) == VKGEMMA_OK);
    REQUIRE(vkgemma_session_create(mh.m, &sp, &s2) == VKGEMMA_OK);  // room again
    CHECK(vkgemma_session_free(s2) == VKGEMMA_OK);

    // Exact (issue 14): at the planner's minimum every layer streams and the session fits; a byte
    // less is refused.
    mp.device_memory_budget = all.minimum_bytes;
    {
      ModelHandle least(&mp);
      REQUIRE(vkgemma_model_get_info(least.m, &info) == VKGEMMA_OK);
      CHECK(info.n_layer_resident == 0);
      REQUIRE(vkgemma_session_create(least.m, &sp, &s) == VKGEMMA_OK);
      CHECK(vkgemma_session_create(least.m, &sp, &s2) == VKGEMMA_OUT_OF_MEMORY);
      CHECK(vkgemma_session_free(s) == VKGEMMA_OK);
    }
    vkgemma_model* m = nullptr;
    for (const uint64_t budget : {all.minimum_bytes - 1, all.global_bytes}) {
      mp.device_memory_budget = budget;
      CHECK(vkgemma_model_load(model_path().c_str(), &mp, &m) == VKGEMMA_OUT_OF_MEMORY);
      CHECK(std::string(vkgemma_last_error()).find("needs at least") != std::string::npos);
      CHECK(m == nullptr);
    }
  }
  SUBCASE("a device profile: applied, unknown names refused, one profile per open device") {
    mp.progress_callback = nullptr;
    mp.device_profile = "no-such-gpu";
    vkgemma_model* bad = nullptr;
    CHECK(vkgemma_model_load(model_path().c_str(), &mp, &bad) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(std::string(vkgemma_last_error()).find("no-such-gpu") != std::string::npos);
    CHECK(bad == nullptr);
    mp.device_profile = "pi5-v3d";
    ModelHandle mh(&mp);
    vkgemma_session* s = nullptr;
    vkgemma_session_params sp = {sizeof sp};
    REQUIRE(vkgemma_session_default_params(&sp) == VKGEMMA_OK);
    sp.n_ctx = 64;
    REQUIRE(vkgemma_session_create(mh.m, &sp, &s) == VKGEMMA_OK);  // pipelines created within the profile
    const std::vector<int32_t> toks = {2, 100, 200};
    CHECK(vkgemma_session_eval(s, toks.data(), toks.size()) == VKGEMMA_OK);
    CHECK(vkgemma_session_free(s) == VKGEMMA_OK);
    mp.device_profile = "minimal";
    vkgemma_model* other = nullptr;
    CHECK(vkgemma_model_load(model_path().c_str(), &mp, &other) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(std::string(vkgemma_last_error()).find("pi5-v3d") != std::string::npos);
    CHECK(other == nullptr);
  }
  SUBCASE("loaded") {
    Progress pr;
    mp.progress_user_data = &pr;
    mp.device_memory_budget = 123456789;
    ModelHandle mh(&mp);
    REQUIRE(pr.seen.size() >= 2);
    CHECK(pr.seen.front() == 0.0f);
    CHECK(pr.seen.back() == 1.0f);
    for (size_t i = 1; i < pr.seen.size(); ++i) CHECK(pr.seen[i] >= pr.seen[i - 1]);

    // Info against host/ reading the same file.
    auto file = vkg::GgufFile::open(model_path());
    const auto g = vkg::load_gemma4(file);
    vkgemma_model_info info = {sizeof info};
    REQUIRE(vkgemma_model_get_info(mh.m, &info) == VKGEMMA_OK);
    CHECK(std::string(info.name) == g.config.name);
    CHECK(std::string(info.architecture) == "gemma4");
    CHECK(info.n_layer == g.config.n_layer);
    CHECK(info.n_embd == g.config.n_embd);
    CHECK(info.n_embd_per_layer == g.config.n_ple);
    CHECK(info.n_vocab == g.config.n_vocab);
    CHECK(info.n_ctx_train == g.config.n_ctx_train);
    CHECK(info.n_head == g.config.layers[0].n_head);
    CHECK(info.n_head_kv == g.config.layers[0].n_head_kv);
    CHECK(info.sliding_window == g.config.sliding_window);
    CHECK(info.n_kv_layers == g.config.n_kv_layers);
    CHECK(info.bos_token == 2);
    CHECK(info.eos_token == 1);
    const auto fp = vkg::gemma4_footprint(g, info.kv_elem_bytes);
    CHECK((info.kv_elem_bytes == 2 || info.kv_elem_bytes == 4));
    CHECK(info.host_paged_bytes == fp.host_bytes);
    CHECK(info.device_bytes >= fp.device_bytes);  // vectors are converted to f32 on upload
    CHECK(info.n_params_device == fp.device_params);
    CHECK(info.n_params_host == fp.host_params);
    CHECK(info.kv_bytes_per_1k == fp.kv_full_bytes_per_1k);
    CHECK(info.kv_sliding_bytes == fp.kv_sliding_ring_bytes);
    CHECK(info.kv_bytes_per_1k > 0);
    CHECK(info.n_ctx_default == 4096);
    CHECK(info.device_memory_budget == 123456789);
    CHECK(info.n_layer_resident == info.n_layer);  // the tiny model fits 123 MB
    CHECK(info.streamed_bytes_per_step == 0);
    CHECK(info.device_index >= 0);
    CHECK(info.load_ms > 0);

    // Tokenizer against host/'s on the same vocabulary.
    const vkg::Tokenizer tok(vkg::read_vocab(file));
    const std::string text = "Hello world, <|turn>user\nhi";
    const uint32_t both = VKGEMMA_TOKENIZE_ADD_SPECIAL | VKGEMMA_TOKENIZE_PARSE_SPECIAL;
    CHECK(tokenize(mh.m, text, both) == tok.encode(text, true, true));
    CHECK(tokenize(mh.m, text, VKGEMMA_TOKENIZE_PARSE_SPECIAL) == tok.encode(text, false, true));
    CHECK(tokenize(mh.m, text, 0) == tok.encode(text, false, false));
    CHECK(tokenize(mh.m, "", both) == std::vector<int32_t>{2});

    const auto ids = tok.encode(text, true, true);
    size_t n = 0;
    std::vector<int32_t> small(ids.size() - 1, -7);
    CHECK(vkgemma_tokenize(mh.m, text.data(), text.size(), both, small.data(), small.size(), &n) ==
          VKGEMMA_BUFFER_TOO_SMALL);
    CHECK(n == ids.size());
    CHECK(small[0] == -7);
    CHECK(vkgemma_tokenize(mh.m, text.data(), text.size(), 1u << 5, nullptr, 0, &n) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(vkgemma_tokenize(mh.m, nullptr, 3, 0, nullptr, 0, &n) == VKGEMMA_INVALID_ARGUMENT);

    for (uint32_t flags : {0u, uint32_t(VKGEMMA_DETOKENIZE_RENDER_SPECIAL)}) {
      const std::string want = tok.decode(ids, flags != 0);
      size_t len = 0;
      CHECK(vkgemma_detokenize(mh.m, ids.data(), ids.size(), flags, nullptr, 0, &len) == VKGEMMA_BUFFER_TOO_SMALL);
      CHECK(len == want.size());
      std::vector<char> buf(len + 1);
      REQUIRE(vkgemma_detokenize(mh.m, ids.data(), ids.size(), flags, buf.data(), buf.size(), &len) == VKGEMMA_OK);
      CHECK(std::string(buf.data(), len) == want);
    }
    const int32_t bad[2] = {5, 512};
    size_t len = 0;
    CHECK(vkgemma_detokenize(mh.m, bad, 2, 0, nullptr, 0, &len) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(std::string(vkgemma_last_error()).find("tokens[1] = 512") != std::string::npos);

    // The chat helper uses the model's BOS text.
    const vkgemma_chat_message msg = {"user", "hi"};
    CHECK(vkgemma_chat_format(mh.m, &msg, 1, VKGEMMA_CHAT_ADD_GENERATION_PROMPT, nullptr, 0, &len) ==
          VKGEMMA_BUFFER_TOO_SMALL);
    std::vector<char> chat(len + 1);
    REQUIRE(vkgemma_chat_format(mh.m, &msg, 1, VKGEMMA_CHAT_ADD_GENERATION_PROMPT, chat.data(), chat.size(), &len) ==
            VKGEMMA_OK);
    CHECK(std::string(chat.data()).rfind(tok.token_text(2), 0) == 0);
  }
}

TEST_CASE("C API generation equals the C++ Session for the same seed") {
  VKG_REQUIRE_SHARED();
  CapiValidationGuard guard;
  ModelHandle mh;
  const std::string text = "The quick brown fox";
  const auto prompt = tokenize(mh.m, text, VKGEMMA_TOKENIZE_ADD_SPECIAL | VKGEMMA_TOKENIZE_PARSE_SPECIAL);

  for (uint64_t seed : {7ull, 1234ull}) {
    CAPTURE(seed);
    Generated c;
    {
      SessionHandle sh(mh.m, 256);
      c = generate(sh.s, prompt, 20, seed);
      REQUIRE_MESSAGE(c.status == VKGEMMA_OK, vkgemma_last_error());
      const vkgemma_stats st = stats_of(sh.s);
      CHECK(st.n_ctx == 256);
      CHECK(st.prompt_tokens == prompt.size());
      CHECK(st.generated_tokens + 1 >= c.tokens.size());
      CHECK(st.n_past == prompt.size() + st.generated_tokens);
      CHECK(st.ple_rows_paged > 0);
      CHECK(st.session_device_bytes > 0);
      CHECK(st.gpu_stall_ms == 0);
      CHECK(st.device_used_bytes >= st.model_device_bytes + st.session_device_bytes / 2);
      CHECK(st.device_allocated_bytes >= st.device_used_bytes);
    }

    // The same run through host/ directly (the test's own device).
    vkg::test::ValidationGuard vguard;
    auto model = vkg::Model::load(vkg::test::device(), model_path());
    vkg::Session s(*model, {.n_ctx = 256});
    CHECK(s.tokenize(text) == prompt);
    vkg::GenerateOptions opt;
    opt.n_predict = 20;
    opt.sampler.seed = seed;
    const auto r = s.generate(prompt, opt, {});
    CHECK(r.tokens == c.tokens);
    CHECK(r.text == c.text);
    CHECK(static_cast<int>(r.stop) == static_cast<int>(c.stop));  // same numbering
    MESSAGE(fmt::format("seed {}: {} tokens, stop {}", seed, c.tokens.size(), static_cast<int>(c.stop)));
  }
}

TEST_CASE("two sessions on two threads give the tokens of one after the other; weights counted once") {
  VKG_REQUIRE_SHARED();
  CapiValidationGuard guard;
  ModelHandle mh;
  vkgemma_model_info info = {sizeof info};
  REQUIRE(vkgemma_model_get_info(mh.m, &info) == VKGEMMA_OK);
  const uint32_t flags = VKGEMMA_TOKENIZE_ADD_SPECIAL;
  const auto p1 = tokenize(mh.m, "one prompt for the first session", flags);
  const auto p2 = tokenize(mh.m, "and another, longer prompt for the second session", flags);

  Generated a, b;
  {
    SessionHandle s1(mh.m, 256, 8);
    const vkgemma_stats one = stats_of(s1.s);
    SessionHandle s2(mh.m, 256, 8);
    const vkgemma_stats two = stats_of(s2.s);
    // The weights live once per model: a second session adds its own KV cache and activations
    // only, far less than the weights of this model.
    CHECK(one.model_device_bytes == info.device_bytes);
    CHECK(two.model_device_bytes == info.device_bytes);
    CHECK(one.device_used_bytes >= info.device_bytes + one.session_device_bytes);
    // Exact (issue 14): a session allocates its arena, session_device_bytes, and nothing else.
    CHECK(two.device_allocated_bytes - one.device_allocated_bytes == two.session_device_bytes);
    CHECK(two.device_used_bytes - one.device_used_bytes <= two.session_device_bytes);
    MESSAGE(fmt::format("weights {} B, session {} B, second session added {} B", info.device_bytes,
                        two.session_device_bytes, two.device_used_bytes - one.device_used_bytes));

    a = generate(s1.s, p1, 24, 11);
    b = generate(s2.s, p2, 24, 22);
    REQUIRE(a.status == VKGEMMA_OK);
    REQUIRE(b.status == VKGEMMA_OK);
    REQUIRE(!a.tokens.empty());
  }
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    SessionHandle s1(mh.m, 256, 8), s2(mh.m, 256, 8);
    Generated ta, tb;
    std::thread t1([&] { ta = generate(s1.s, p1, 24, 11); });
    std::thread t2([&] { tb = generate(s2.s, p2, 24, 22); });
    t1.join();
    t2.join();
    CHECK(ta.status == VKGEMMA_OK);
    CHECK(tb.status == VKGEMMA_OK);
    CHECK(ta.tokens == a.tokens);
    CHECK(tb.tokens == b.tokens);
    CHECK(ta.text == a.text);
    CHECK(tb.text == b.text);
  }
  // Models loaded and freed on two threads at once (device and instance shared, refcounted).
  std::vector<Generated> out(2);
  std::vector<std::thread> ts;
  for (int i = 0; i < 2; ++i)
    ts.emplace_back([&, i] {
      vkgemma_model* m = nullptr;
      if (vkgemma_model_load(model_path().c_str(), nullptr, &m) != VKGEMMA_OK) return;
      vkgemma_session_params p = {sizeof p};
      vkgemma_session_default_params(&p);
      p.n_ctx = 256;  // as above: same kernels, same numbers
      p.n_batch = 8;
      vkgemma_session* s = nullptr;
      if (vkgemma_session_create(m, &p, &s) == VKGEMMA_OK) {
        vkgemma_model_free(m);  // the session keeps the model alive
        vkgemma_sampler_params sp = {sizeof sp};
        vkgemma_sampler_default_params(&sp);
        sp.n_predict = 24;
        sp.seed = 11;
        out[i].status = vkgemma_generate(s, p1.data(), p1.size(), &sp, collect, &out[i], nullptr);
        vkgemma_session_free(s);
      } else {
        vkgemma_model_free(m);
      }
    });
  for (auto& t : ts) t.join();
  for (const auto& g : out) {
    CHECK(g.status == VKGEMMA_OK);
    CHECK(g.tokens == a.tokens);
  }
}

TEST_CASE("session misuse, limits and stopping") {
  VKG_REQUIRE_SHARED();
  CapiValidationGuard guard;
  ModelHandle mh;
  const auto prompt = tokenize(mh.m, "a b c d e f", VKGEMMA_TOKENIZE_ADD_SPECIAL);
  REQUIRE(prompt.size() >= 3);

  SUBCASE("bad session params") {
    vkgemma_session_params p = {sizeof p};
    REQUIRE(vkgemma_session_default_params(&p) == VKGEMMA_OK);
    vkgemma_session* s = reinterpret_cast<vkgemma_session*>(0x1);
    p.n_ctx = 4097;  // over the model's context
    CHECK(vkgemma_session_create(mh.m, &p, &s) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(s == nullptr);
    p.n_ctx = 64;
    p.n_batch = 0;
    CHECK(vkgemma_session_create(mh.m, &p, &s) == VKGEMMA_INVALID_ARGUMENT);
    p.n_batch = 8;
    p.struct_size = 4;
    CHECK(vkgemma_session_create(mh.m, &p, &s) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(vkgemma_session_create(mh.m, nullptr, nullptr) == VKGEMMA_INVALID_ARGUMENT);
    REQUIRE(vkgemma_session_create(mh.m, nullptr, &s) == VKGEMMA_OK);  // defaults
    CHECK(stats_of(s).n_ctx == 4096);
    CHECK(vkgemma_session_free(s) == VKGEMMA_OK);
  }
  SUBCASE("eval, context full, reset") {
    SessionHandle sh(mh.m, 16, 4);
    std::vector<int32_t> many(20, 5);
    CHECK(vkgemma_session_eval(sh.s, many.data(), many.size()) == VKGEMMA_CONTEXT_FULL);
    CHECK(stats_of(sh.s).n_past == 0);  // nothing evaluated
    CHECK(vkgemma_session_eval(sh.s, nullptr, 3) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(vkgemma_session_eval(sh.s, many.data(), 0) == VKGEMMA_INVALID_ARGUMENT);
    const int32_t oov[2] = {5, 100000};
    CHECK(vkgemma_session_eval(sh.s, oov, 2) == VKGEMMA_INVALID_ARGUMENT);
    REQUIRE(vkgemma_session_eval(sh.s, many.data(), 10) == VKGEMMA_OK);
    CHECK(stats_of(sh.s).n_past == 10);
    Generated g = generate(sh.s, std::vector<int32_t>(7, 5), 4, 1);
    CHECK(g.status == VKGEMMA_CONTEXT_FULL);
    CHECK(stats_of(sh.s).n_past == 10);
    // Generation that runs into the end of the context stops there (or at an end token).
    g = generate(sh.s, std::vector<int32_t>(3, 5), 100, 1);
    CHECK(g.status == VKGEMMA_OK);
    CHECK((g.stop == VKGEMMA_STOP_CONTEXT_FULL || g.stop == VKGEMMA_STOP_END_OF_GENERATION));
    CHECK(stats_of(sh.s).n_past <= 16);
    REQUIRE(vkgemma_session_reset(sh.s) == VKGEMMA_OK);
    CHECK(stats_of(sh.s).n_past == 0);
    CHECK(stats_of(sh.s).prompt_tokens >= 13);  // statistics are kept
  }
  SUBCASE("bad sampler params evaluate nothing") {
    SessionHandle sh(mh.m, 64, 8);
    vkgemma_sampler_params sp = {sizeof sp};
    REQUIRE(vkgemma_sampler_default_params(&sp) == VKGEMMA_OK);
    sp.top_p = 2.0f;
    CHECK(vkgemma_generate(sh.s, prompt.data(), prompt.size(), &sp, nullptr, nullptr, nullptr) ==
          VKGEMMA_INVALID_ARGUMENT);
    CHECK(std::string(vkgemma_last_error()).find("sampler") != std::string::npos);
    sp.top_p = 0.9f;
    sp.struct_size = 0;
    CHECK(vkgemma_generate(sh.s, prompt.data(), prompt.size(), &sp, nullptr, nullptr, nullptr) ==
          VKGEMMA_INVALID_ARGUMENT);
    CHECK(vkgemma_generate(sh.s, prompt.data(), 0, nullptr, nullptr, nullptr, nullptr) == VKGEMMA_INVALID_ARGUMENT);
    CHECK(stats_of(sh.s).n_past == 0);
    // NULL sampler params and NULL callback: defaults, nothing delivered.
    vkgemma_stop_reason stop{};
    sp = {sizeof sp};
    REQUIRE(vkgemma_sampler_default_params(&sp) == VKGEMMA_OK);
    CHECK(vkgemma_generate(sh.s, prompt.data(), prompt.size(), nullptr, nullptr, nullptr, &stop) == VKGEMMA_OK);
    CHECK(stats_of(sh.s).n_past > prompt.size());
  }
  SUBCASE("the callback stops generation; re-entrant calls are refused") {
    SessionHandle sh(mh.m, 64, 8);
    struct Ctx {
      vkgemma_session* s;
      int calls = 0;
      vkgemma_status reset = VKGEMMA_OK, free = VKGEMMA_OK, gen = VKGEMMA_OK, eval = VKGEMMA_OK,
                     stats = VKGEMMA_INTERNAL;
    } ctx{sh.s};
    auto cb = [](int32_t token, const char*, size_t, void* user) {
      auto* c = static_cast<Ctx*>(user);
      if (token < 0) return true;
      if (++c->calls == 1) {
        c->reset = vkgemma_session_reset(c->s);
        c->free = vkgemma_session_free(c->s);
        const int32_t id = 5;
        c->gen = vkgemma_generate(c->s, &id, 1, nullptr, nullptr, nullptr, nullptr);
        c->eval = vkgemma_session_eval(c->s, &id, 1);
        vkgemma_stats st = {sizeof st};
        c->stats = vkgemma_session_get_stats(c->s, &st);
      }
      return c->calls < 3;
    };
    vkgemma_sampler_params sp = {sizeof sp};
    REQUIRE(vkgemma_sampler_default_params(&sp) == VKGEMMA_OK);
    sp.temperature = 0;  // greedy
    sp.n_predict = 50;
    vkgemma_stop_reason stop{};
    const vkgemma_status s = vkgemma_generate(sh.s, prompt.data(), prompt.size(), &sp, cb, &ctx, &stop);
    CHECK(s == VKGEMMA_OK);
    if (ctx.calls == 3) {
      CHECK(stop == VKGEMMA_STOP_CALLBACK);
    } else {
      CHECK(stop == VKGEMMA_STOP_END_OF_GENERATION);  // the random model ended first
    }
    CHECK(ctx.reset == VKGEMMA_INVALID_ARGUMENT);
    CHECK(ctx.free == VKGEMMA_INVALID_ARGUMENT);
    CHECK(ctx.gen == VKGEMMA_INVALID_ARGUMENT);
    CHECK(ctx.eval == VKGEMMA_INVALID_ARGUMENT);
    CHECK(ctx.stats == VKGEMMA_OK);
    // The session is still usable afterwards.
    const vkgemma_stats st = stats_of(sh.s);
    CHECK(st.n_past == prompt.size() + st.generated_tokens);
    REQUIRE(vkgemma_session_reset(sh.s) == VKGEMMA_OK);
  }
  SUBCASE("a session keeps its model alive") {
    vkgemma_model* m = nullptr;
    REQUIRE(vkgemma_model_load(model_path().c_str(), nullptr, &m) == VKGEMMA_OK);
    vkgemma_session* s = nullptr;
    REQUIRE(vkgemma_session_create(m, nullptr, &s) == VKGEMMA_OK);
    CHECK(vkgemma_model_free(m) == VKGEMMA_OK);
    const Generated g = generate(s, prompt, 8, 3);
    CHECK_MESSAGE(g.status == VKGEMMA_OK, std::string(vkgemma_last_error()));
    CHECK(vkgemma_session_free(s) == VKGEMMA_OK);
  }
}

namespace {

std::string format_json(const vkgemma_model* m, const std::string& messages, const std::string& tools, uint32_t flags) {
  size_t len = 0;
  const vkgemma_status s = vkgemma_chat_format_json(m, messages.data(), messages.size(), tools.data(), tools.size(),
                                                    flags, nullptr, 0, &len);
  REQUIRE_MESSAGE((s == VKGEMMA_BUFFER_TOO_SMALL || s == VKGEMMA_OK), vkgemma_last_error());
  std::vector<char> buf(len + 1);
  REQUIRE(vkgemma_chat_format_json(m, messages.data(), messages.size(), tools.data(), tools.size(), flags, buf.data(),
                                   buf.size(), &len) == VKGEMMA_OK);
  return std::string(buf.data(), len);
}

vkgemma_reply_info reply_info(const vkgemma_reply* r) {
  vkgemma_reply_info info = {sizeof info};
  REQUIRE(vkgemma_reply_get_info(r, &info) == VKGEMMA_OK);
  return info;
}

struct ReplyHandle {
  vkgemma_reply* r = nullptr;
  ReplyHandle() { REQUIRE(vkgemma_reply_create(&r) == VKGEMMA_OK); }
  ~ReplyHandle() { CHECK(vkgemma_reply_free(r) == VKGEMMA_OK); }
  ReplyHandle(const ReplyHandle&) = delete;
  ReplyHandle& operator=(const ReplyHandle&) = delete;
};

}  // namespace

TEST_CASE("C API replies: a tool-call round trip gives the prompts jinja2 renders") {
  // Expected prompts: jinja2 renderings of ../shared/reference/gemma-4-E2B-chat-template.jinja
  // (Hugging Face settings, bos_token "<bos>") of the same conversations written by hand.
  const std::string tools =
      R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather lookup",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])";
  const std::string decl =
      "<|tool>declaration:get_weather{description:<|\"|>Weather lookup<|\"|>,parameters:{properties:{city:{type:<|\"|>"
      "STRING<|\"|>}},required:[<|\"|>city<|\"|>],type:<|\"|>OBJECT<|\"|>}}<tool|>";
  nlohmann::json messages = nlohmann::json::parse(
      R"([{"role": "system", "content": "You check the weather."}, {"role": "user", "content": "Weather in Oslo?"}])");
  // 1. The prompt (model NULL: the E2B/E4B template, which ends at "<|turn>model\n").
  CHECK(format_json(nullptr, messages.dump(), tools, VKGEMMA_CHAT_ADD_GENERATION_PROMPT) ==
        "<bos><|turn>system\nYou check the weather." + decl + "<turn|>\n<|turn>user\nWeather in Oslo?<turn|>\n"
        "<|turn>model\n");

  // 2. A scripted model turn: reasoning, a tool call, the hand-over to the tool.
  ReplyHandle rh;
  const std::string out = "<|channel>thought\nI need the weather tool.<channel|><|tool_call>call:get_weather{city:<|\"|>"
                          "Oslo<|\"|>}<tool_call|><|tool_response>";
  REQUIRE(vkgemma_reply_parse(rh.r, out.data(), out.size()) == VKGEMMA_OK);
  const vkgemma_reply_info info = reply_info(rh.r);
  CHECK(std::string(info.content, info.content_len) == "");
  CHECK(std::string(info.reasoning) == "I need the weather tool.");
  CHECK(info.reasoning_len == 24);
  REQUIRE(info.n_tool_calls == 1);
  CHECK(nlohmann::json::parse(info.tool_calls_json) ==
        nlohmann::json::parse(R"([{"name": "get_weather", "arguments": {"city": "Oslo"}}])"));
  CHECK(std::string(info.error).empty());
  const char *name = nullptr, *args = nullptr;
  size_t name_len = 0, args_len = 0;
  REQUIRE(vkgemma_reply_get_tool_call(rh.r, 0, &name, &name_len, &args, &args_len) == VKGEMMA_OK);
  CHECK(std::string(name, name_len) == "get_weather");
  CHECK(nlohmann::json::parse(std::string(args, args_len)) == nlohmann::json{{"city", "Oslo"}});
  CHECK(vkgemma_reply_get_tool_call(rh.r, 1, &name, nullptr, &args, nullptr) == VKGEMMA_INVALID_ARGUMENT);
  CHECK(std::string(vkgemma_last_error()).find("out of range") != std::string::npos);

  // 3. Its message and the tool's answer: the model continues its turn after the response.
  const nlohmann::json msg = nlohmann::json::parse(std::string(info.message_json, info.message_json_len));
  CHECK(msg["role"] == "assistant");
  CHECK(msg["tool_calls"][0]["id"] == "call_0");
  messages.push_back(msg);
  messages.push_back({{"role", "tool"}, {"tool_call_id", "call_0"}, {"content", "-3 and snow"}});
  CHECK(format_json(nullptr, messages.dump(), tools, VKGEMMA_CHAT_ADD_GENERATION_PROMPT) ==
        "<bos><|turn>system\nYou check the weather." + decl + "<turn|>\n<|turn>user\nWeather in Oslo?<turn|>\n"
        "<|turn>model\n<|channel>thought\nI need the weather tool.\n<channel|><|tool_call>call:get_weather{city:<|\"|>"
        "Oslo<|\"|>}<tool_call|><|tool_response>response:get_weather{value:<|\"|>-3 and snow<|\"|>}<tool_response|>");

  // 4. The answer, then a new question with thinking on: the old reasoning is gone.
  const std::string answer = "It is -3 and snowing in Oslo.<turn|>";
  REQUIRE(vkgemma_reply_parse(rh.r, answer.data(), answer.size()) == VKGEMMA_OK);
  const vkgemma_reply_info info2 = reply_info(rh.r);
  CHECK(info2.n_tool_calls == 0);
  CHECK(std::string(info2.tool_calls_json) == "[]");
  messages.push_back(nlohmann::json::parse(info2.message_json));
  messages.push_back({{"role", "user"}, {"content", "Thanks!"}});
  CHECK(format_json(nullptr, messages.dump(), tools, VKGEMMA_CHAT_ADD_GENERATION_PROMPT | VKGEMMA_CHAT_THINKING) ==
        "<bos><|turn>system\n<|think|>\nYou check the weather." + decl + "<turn|>\n<|turn>user\nWeather in Oslo?<turn|>\n"
        "<|turn>model\n<|tool_call>call:get_weather{city:<|\"|>Oslo<|\"|>}<tool_call|><|tool_response>response:"
        "get_weather{value:<|\"|>-3 and snow<|\"|>}<tool_response|>It is -3 and snowing in Oslo.<turn|>\n"
        "<|turn>user\nThanks!<turn|>\n<|turn>model\n");

  // Misuse.
  size_t len = 0;
  const std::string bad = "[{\"role\": ";
  CHECK(vkgemma_chat_format_json(nullptr, bad.data(), bad.size(), nullptr, 0, 0, nullptr, 0, &len) ==
        VKGEMMA_INVALID_ARGUMENT);
  CHECK(std::string(vkgemma_last_error()).find("messages_json is not valid JSON") != std::string::npos);
  const std::string no_role = "[{\"content\": \"x\"}]";
  CHECK(vkgemma_chat_format_json(nullptr, no_role.data(), no_role.size(), nullptr, 0, 0, nullptr, 0, &len) ==
        VKGEMMA_INVALID_ARGUMENT);
  const std::string ok = "[]", obj = "{}";
  CHECK(vkgemma_chat_format_json(nullptr, ok.data(), ok.size(), obj.data(), obj.size(), 0, nullptr, 0, &len) ==
        VKGEMMA_INVALID_ARGUMENT);  // tools must be an array
  CHECK(vkgemma_chat_format_json(nullptr, ok.data(), ok.size(), nullptr, 0, 1u << 7, nullptr, 0, &len) ==
        VKGEMMA_INVALID_ARGUMENT);
  CHECK(vkgemma_chat_format_json(nullptr, nullptr, 0, nullptr, 0, 0, nullptr, 0, &len) == VKGEMMA_INVALID_ARGUMENT);
  CHECK(vkgemma_reply_parse(nullptr, "x", 1) == VKGEMMA_INVALID_ARGUMENT);
  CHECK(vkgemma_reply_parse(rh.r, nullptr, 3) == VKGEMMA_INVALID_ARGUMENT);
  CHECK(vkgemma_reply_create(nullptr) == VKGEMMA_INVALID_ARGUMENT);
  CHECK(vkgemma_reply_free(nullptr) == VKGEMMA_OK);
  vkgemma_reply_info small = {sizeof(size_t)};
  CHECK(vkgemma_reply_get_info(rh.r, &small) == VKGEMMA_INVALID_ARGUMENT);
  // A malformed tool call is left out and described.
  const std::string broken = "Hi <|tool_call>call:f{a:<|\"|>x}<tool_call|>";
  REQUIRE(vkgemma_reply_parse(rh.r, broken.data(), broken.size()) == VKGEMMA_OK);
  const vkgemma_reply_info info3 = reply_info(rh.r);
  CHECK(std::string(info3.content) == "Hi");
  CHECK(info3.n_tool_calls == 0);
  CHECK(std::string(info3.error).find("tool call 'f'") != std::string::npos);
}

TEST_CASE("C API generate_reply: the answer apart, same tokens as vkgemma_generate, the stop token reported") {
  VKG_REQUIRE_SHARED();
  CapiValidationGuard guard;
  ModelHandle mh;
  // The E2B-style template for a model with per-layer embeddings.
  const vkgemma_chat_message msg = {"user", "hi"};
  size_t len = 0;
  std::vector<char> chat(4096);
  REQUIRE(vkgemma_chat_format(mh.m, &msg, 1, VKGEMMA_CHAT_ADD_GENERATION_PROMPT, chat.data(), chat.size(), &len) ==
          VKGEMMA_OK);
  CHECK(std::string(chat.data(), len).ends_with("<turn|>\n<|turn>model\n"));

  // A prompt and seed with which this random model ends by itself (an end-of-generation token)
  // within 64 tokens, sampling from the whole vocabulary.
  const auto prompt = tokenize(mh.m, "The quick brown fox", VKGEMMA_TOKENIZE_ADD_SPECIAL);
  vkgemma_sampler_params sp = {sizeof sp};
  REQUIRE(vkgemma_sampler_default_params(&sp) == VKGEMMA_OK);
  sp.n_predict = 64;
  sp.seed = 1;
  sp.temperature = 1.5f;
  sp.top_k = 0;
  sp.top_p = 1.0f;
  sp.min_p = 0.0f;
  Generated g;
  {
    SessionHandle sh(mh.m, 256);
    g.status = vkgemma_generate(sh.s, prompt.data(), prompt.size(), &sp, collect, &g, &g.stop);
    REQUIRE(g.status == VKGEMMA_OK);
  }
  // The C++ reference for the stop: the host Session on the same file.
  vkg::test::ValidationGuard vguard;
  auto model = vkg::Model::load(vkg::test::device(), model_path());
  vkg::Session cs(*model, {.n_ctx = 256});
  vkg::GenerateOptions go;
  go.n_predict = sp.n_predict;
  go.sampler.seed = sp.seed;
  go.sampler.temperature = sp.temperature;
  go.sampler.top_k = sp.top_k;
  go.sampler.top_p = sp.top_p;
  go.sampler.min_p = sp.min_p;
  const auto want = cs.generate(prompt, go, nullptr);
  REQUIRE_MESSAGE(want.stop == vkg::StopReason::EndOfGeneration,
                  "pick another seed: this generation must end with an end-of-generation token");
  CHECK(model->tokenizer().is_eog(want.stop_token));
  CHECK(g.tokens == want.tokens);
  CHECK(g.stop == VKGEMMA_STOP_END_OF_GENERATION);

  SessionHandle sh(mh.m, 256);
  struct Parts {
    std::string content, reasoning;
    int calls = 0;
  } parts;
  auto cb = [](vkgemma_reply_part part, const char* text, size_t n, void* user) {
    auto* p = static_cast<Parts*>(user);
    if (part == VKGEMMA_REPLY_CONTENT) p->content.append(text, n);
    else if (part == VKGEMMA_REPLY_REASONING) p->reasoning.append(text, n);
    else ++p->calls;
    return true;
  };
  ReplyHandle rh;
  REQUIRE(vkgemma_generate_reply(sh.s, prompt.data(), prompt.size(), &sp, cb, &parts, rh.r) == VKGEMMA_OK);
  const vkgemma_reply_info info = reply_info(rh.r);
  CHECK(info.stop_reason == VKGEMMA_STOP_END_OF_GENERATION);
  CHECK(info.stop_token == want.stop_token);
  vkgemma_stop_reason last = VKGEMMA_STOP_CALLBACK;
  int32_t last_token = -2;
  REQUIRE(vkgemma_session_get_last_stop(sh.s, &last, &last_token) == VKGEMMA_OK);
  CHECK(last == VKGEMMA_STOP_END_OF_GENERATION);
  CHECK(last_token == want.stop_token);
  // The synthetic vocabulary has no markup tokens: the answer is the whole text, trimmed.
  const vkg::ParsedReply parsed = vkg::parse_model_reply(g.text);
  CHECK(std::string(info.content, info.content_len) == parsed.content);
  CHECK(parts.content == parsed.content);
  CHECK(parts.reasoning.empty());
  CHECK(parts.calls == 0);
  CHECK(stats_of(sh.s).n_past == prompt.size() + g.tokens.size());  // all delivered tokens evaluated

  // Max tokens: no stop token.
  SessionHandle sh2(mh.m, 256);
  sp.n_predict = 2;
  REQUIRE(vkgemma_generate_reply(sh2.s, prompt.data(), prompt.size(), &sp, nullptr, nullptr, rh.r) == VKGEMMA_OK);
  CHECK(reply_info(rh.r).stop_reason == VKGEMMA_STOP_MAX_TOKENS);
  CHECK(reply_info(rh.r).stop_token == -1);
  REQUIRE(vkgemma_session_get_last_stop(sh2.s, &last, &last_token) == VKGEMMA_OK);
  CHECK(last == VKGEMMA_STOP_MAX_TOKENS);
  CHECK(last_token == -1);
  CHECK(vkgemma_session_get_last_stop(nullptr, &last, &last_token) == VKGEMMA_INVALID_ARGUMENT);
  CHECK(vkgemma_generate_reply(sh2.s, prompt.data(), prompt.size(), &sp, nullptr, nullptr,
                               reinterpret_cast<vkgemma_reply*>(sh2.s)) == VKGEMMA_INVALID_ARGUMENT);
}

TEST_CASE("a real-convention file: end-of-generation set, BOS, the file's sampling defaults") {
  VKG_REQUIRE_SHARED();
  CapiValidationGuard guard;
  const std::string path = (vkg::test::shared_dir() / "golden" / "tiny_real_vocab_llamacpp" / "model.gguf").string();
  vkgemma_model_params mp = {sizeof mp};
  REQUIRE(vkgemma_model_default_params(&mp) == VKGEMMA_OK);
  mp.n_ctx = 256;
  vkgemma_model* m = nullptr;
  REQUIRE_MESSAGE(vkgemma_model_load(path.c_str(), &mp, &m) == VKGEMMA_OK, vkgemma_last_error());
  vkgemma_model_info info = {sizeof info};
  REQUIRE(vkgemma_model_get_info(m, &info) == VKGEMMA_OK);
  CHECK(info.n_eog_tokens == 3);
  CHECK(std::vector<int32_t>(info.eog_tokens, info.eog_tokens + 3) == std::vector<int32_t>{1, 50, 106});
  CHECK(info.eog_tokens[3] == -1);
  CHECK(info.add_bos);
  CHECK(info.file_add_bos_token == 1);
  for (int32_t id : {1, 50, 106}) CHECK(vkgemma_token_is_eog(m, id));
  for (int32_t id : {0, 2, 105, 212, -1, 1 << 30}) CHECK(!vkgemma_token_is_eog(m, id));
  CHECK(!vkgemma_token_is_eog(nullptr, 1));
  // The file recommends its sampling (general.sampling.*).
  const auto file = vkg::GgufFile::open(path);
  CHECK(info.sampling_top_k == file.get_int("general.sampling.top_k"));
  CHECK(info.sampling_top_p == static_cast<float>(file.get_float("general.sampling.top_p")));
  CHECK(info.sampling_temperature == static_cast<float>(file.get_float("general.sampling.temp")));
  // Raw text with ADD_SPECIAL starts with BOS.
  const std::vector<int32_t> ids = tokenize(m, "Hello", VKGEMMA_TOKENIZE_ADD_SPECIAL);
  REQUIRE(!ids.empty());
  CHECK(ids.front() == 2);

  CHECK(vkgemma_model_free(m) == VKGEMMA_OK);
}

TEST_CASE("vkgemma_generate without sampler params samples with the file's general.sampling.*") {
  CapiValidationGuard guard;
  // A tiny synthetic model whose file recommends a hot, untruncated distribution (so that the
  // tokens depend on the sampling parameters).
  vkg::SynthOptions o = vkg::synth_preset("tiny");
  o.seed = 5;
  o.logit_std = 0.5f;  // a flat distribution: the tokens depend on the sampling parameters
  const std::vector<uint8_t> plain = vkg::synth_write_memory(vkg::synth_plan(o));
  const std::vector<uint8_t> bytes = vkg::test::rewrite_gguf(
      vkg::GgufFile::open_memory(std::span<const uint8_t>(plain)), {}, [](vkg::GgufWriter& w) {
        w.add_i32("general.sampling.top_k", 0);
        w.add_f32("general.sampling.top_p", 1.0f);
        w.add_f32("general.sampling.temp", 4.0f);
      });
  const auto path = vkg::test::scratch_dir("capi_sampling") / "hot.gguf";
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  vkgemma_model* m = nullptr;
  REQUIRE_MESSAGE(vkgemma_model_load(path.c_str(), nullptr, &m) == VKGEMMA_OK, vkgemma_last_error());
  vkgemma_model_info info = {sizeof info};
  REQUIRE(vkgemma_model_get_info(m, &info) == VKGEMMA_OK);
  CHECK(info.sampling_top_k == 0);
  CHECK(info.sampling_top_p == 1.0f);
  CHECK(info.sampling_temperature == 4.0f);
  const std::vector<int32_t> prompt = tokenize(m, "hello there", VKGEMMA_TOKENIZE_ADD_SPECIAL);
  auto run = [&](const vkgemma_sampler_params* sp) {
    SessionHandle sh(m, 256);
    Generated g;
    g.status = vkgemma_generate(sh.s, prompt.data(), prompt.size(), sp, collect, &g, &g.stop);
    CHECK(g.status == VKGEMMA_OK);
    return g;
  };
  vkgemma_sampler_params file_sp = {sizeof file_sp};
  REQUIRE(vkgemma_sampler_default_params(&file_sp) == VKGEMMA_OK);
  const vkgemma_sampler_params defaults = file_sp;
  file_sp.top_k = info.sampling_top_k;
  file_sp.top_p = info.sampling_top_p;
  file_sp.temperature = info.sampling_temperature;
  const Generated none = run(nullptr), with_file = run(&file_sp), with_defaults = run(&defaults);
  MESSAGE(none.tokens.size(), " / ", with_file.tokens.size(), " / ", with_defaults.tokens.size(), " tokens");
  CHECK(none.tokens == with_file.tokens);
  CHECK(none.stop == with_file.stop);
  CHECK(none.tokens != with_defaults.tokens);
  for (int32_t id : none.tokens) CHECK(!vkgemma_token_is_eog(m, id));  // never delivered
  CHECK(vkgemma_model_free(m) == VKGEMMA_OK);
}
