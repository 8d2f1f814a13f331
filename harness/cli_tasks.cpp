// eebench tasks show NAME: a task's spec (or, for tasks written in C++, its template text) and the
// first prompt it renders from the data, so a spec can be checked before a run.
#include <cstdio>
#include <string>

#include "core/error.h"
#include "tasks/task.h"
#include "tasks/task_spec.h"

namespace eeb {

namespace {

// Control characters visible, so trailing spaces and newlines in a prompt can be seen.
std::string shown(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '\n' ? std::string("\\n\n") : std::string(1, c);
  return out;
}

}  // namespace

int cmd_tasks_show(const std::string& name, const std::string& data) {
  auto task = make_task(name);
  // The data first: a bad data file prints its one-line error and nothing else.
  TaskOptions o;
  o.data_dir = data;
  o.limit = 1;
  const auto docs = task->load(o);
  if (docs.empty()) throw Error("task " + task->name() + ": no documents");
  const std::string spec = task_spec_text(*task);
  std::printf("# task %s, version %s, split %s, shots %d, template %s\n", task->name().c_str(),
              task->version().c_str(), task->default_split().c_str(), task->default_shots(),
              template_hash(*task).c_str());
  std::printf("%s", spec.empty() ? task->template_text().c_str() : spec.c_str());
  if (!spec.empty() && spec.back() != '\n') std::printf("\n");
  const Doc& d = docs.front();
  std::printf("\n# first document %s (gold %d), prompt with \\n shown:\n", d.id.c_str(), d.gold);
  if (d.choice_contexts.empty()) {
    std::printf("%s\n", shown(d.context).c_str());
    for (size_t c = 0; c < d.choices.size(); ++c)
      std::printf("# choice %zu%s: \"%s\"\n", c, static_cast<int>(c) == d.gold ? " (gold)" : "",
                  shown(d.choices[c]).c_str());
  } else {  // partial scoring: a context per choice, the continuation scored after each
    for (size_t c = 0; c < d.choices.size(); ++c)
      std::printf("# choice %zu%s: context \"%s\", scored continuation \"%s\"\n", c,
                  static_cast<int>(c) == d.gold ? " (gold)" : "",
                  shown(d.context + d.choice_contexts[c]).c_str(), shown(d.choices[c]).c_str());
  }
  return 0;
}

}  // namespace eeb
