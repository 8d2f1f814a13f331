#include "tasks/generation.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tasks/builtin.h"

namespace eeb {
namespace {

class GenerationTask : public Task {
 public:
  GenerationTask(std::string name, std::string input_key, std::string ref_key, bool summarize)
      : name_(std::move(name)), in_(std::move(input_key)), ref_(std::move(ref_key)),
        summarize_(summarize) {}
  std::string name() const override { return name_; }
  std::string version() const override { return "1.0"; }
  std::string kind() const override { return "generation"; }
  std::string template_text() const override {
    return summarize_ ? "Article: {" + in_ + "}\nSummary:" : "{" + in_ + "}";
  }
  std::string default_split() const override { return "test"; }

  std::vector<Doc> load(const TaskOptions& opt) const override {
    check_task_options(opt, name_);
    const std::string split = opt.split.empty() ? default_split() : opt.split;
    const std::string path = opt.data_dir + "/" + name_ + "/" + split + ".jsonl";
    std::ifstream f(path);
    if (!f) throw Error(path, "cannot open task file");
    std::vector<Doc> docs;
    std::string line;
    int lineno = 0;
    while (std::getline(f, line)) {
      ++lineno;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = path + ":" + std::to_string(lineno);
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) throw Error(where, "not a JSON object");
      if (!j.contains(in_) || !j[in_].is_string())
        throw Error(where, "missing string field \"" + in_ + "\"");
      if (j.contains(ref_) && !j[ref_].is_string())
        throw Error(where, "field \"" + ref_ + "\" must be a string");
      Doc d;
      d.id = split + ":" + std::to_string(docs.size());
      const std::string input = j[in_].get<std::string>();
      d.context = summarize_ ? "Article: " + input + "\nSummary:" : input;
      d.reference = j.value(ref_, std::string());
      docs.push_back(std::move(d));
      if (opt.limit > 0 && static_cast<int>(docs.size()) >= opt.limit) break;
    }
    if (docs.empty()) throw Error(path, "no documents");
    return docs;
  }

 private:
  std::string name_, in_, ref_;
  bool summarize_;
};

}  // namespace

std::unique_ptr<Task> make_generation_task(const std::string& name) {
  if (name == "prompts") return std::make_unique<GenerationTask>(name, "prompt", "reference", false);
  if (name == "cnn_dailymail")
    return std::make_unique<GenerationTask>(name, "article", "highlights", true);
  if (name == "xsum") return std::make_unique<GenerationTask>(name, "document", "summary", true);
  return nullptr;
}

}  // namespace eeb
