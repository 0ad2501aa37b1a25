// Stop strings (OpenAI's `stop`, llama.cpp's --stop / "stop"): generated text is passed on except
// a tail that could be the start of a stop string, held back until the next text decides; at the
// first stop string the text ends (the string and what follows are dropped). Used by the CLI's
// reply printer and the server's response builder alike.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace vkg {

/// Text through stop strings (see above). An empty list passes everything through at once.
class StopFilter {
 public:
  explicit StopFilter(std::vector<std::string> stops = {}) : stops_(std::move(stops)) {}
  /// The text that can be passed on now. Nothing once stopped().
  std::string push(std::string_view text);
  /// End of input: the text held back (no stop string followed).
  std::string finish();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

/// Position of the earliest occurrence of any of stops in text, or npos.
size_t find_stop(std::string_view text, const std::vector<std::string>& stops);

}  // namespace vkg
