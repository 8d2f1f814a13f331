// Progress of a long loop: a redrawn bar with rate and ETA on a terminal, plain lines otherwise;
// out == nullptr prints nothing.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

namespace eeb {

class Progress {
 public:
  Progress(long total, std::string label, FILE* out = stderr);
  void advance(long n = 1, const std::string& status = "");
  void finish();

 private:
  void draw(bool final);
  long total_, done_ = 0;
  std::string label_, status_;
  FILE* out_;
  bool tty_;
  int last_percent_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace eeb
