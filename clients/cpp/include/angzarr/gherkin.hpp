// A small Gherkin reader and step runner, for running the repository's shared
// .feature files (features/*.feature) in-process from a C++ test.
//
// This is NOT Cucumber: it reads the subset of Gherkin the shared features
// use -- Feature (with its description), Background, Scenario/Example,
// Given/When/Then/And/But/* steps, tags, comments -- and refuses anything
// else (Scenario Outline, Examples, Rule, doc strings, data tables) with a
// ParseError rather than skipping it. Step definitions are regular
// expressions matched against the whole step text (std::regex, ECMAScript).
// As in Cucumber, And/But take the keyword of the step before them; unlike
// Cucumber, a definition registered with given()/when()/then() matches only
// steps of that keyword (step() definitions and `*` steps match any), so
// `Given they reserve ...` and `When they reserve ...` can mean different
// things. An undefined or
// ambiguous step fails its scenario, never skips it.
#pragma once

#include <cctype>
#include <exception>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace angzarr::gherkin {

/// A malformed or unsupported feature file.
class ParseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Step {
  std::string keyword;  ///< as written: Given, When, Then, And, But or *
  std::string kind;     ///< Given, When or Then (And/But resolved); empty for * (any keyword)
  std::string text;     ///< the step text after the keyword
  int line = 0;
  std::string to_string() const { return keyword + " " + text; }
};

struct Scenario {
  std::string name;
  int line = 0;
  std::vector<std::string> tags;
  std::vector<Step> steps;
};

struct Feature {
  std::string path;
  std::string name;
  std::vector<std::string> tags;
  std::vector<Step> background;
  std::vector<Scenario> scenarios;
};

namespace detail {
inline std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}
inline bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
}  // namespace detail

/// Parses feature text; path is only used in messages.
inline Feature parse(const std::string& text, const std::string& path = "<memory>") {
  using detail::starts_with;
  Feature feature;
  feature.path = path;
  enum class In { Nothing, Feature, Background, Scenario } in = In::Nothing;
  bool seen_feature = false;
  bool in_steps = false;  // past the first step of the current block
  std::vector<std::string> pending_tags;
  std::vector<Step>* steps = nullptr;

  auto fail = [&](int line, const std::string& why) {
    throw ParseError(path + ":" + std::to_string(line) + ": " + why);
  };

  std::istringstream in_stream(text);
  std::string raw;
  int line_no = 0;
  while (std::getline(in_stream, raw)) {
    ++line_no;
    if (line_no == 1 && starts_with(raw, "\xEF\xBB\xBF")) raw = raw.substr(3);  // BOM
    const std::string line = detail::trim(raw);
    if (line.empty() || line[0] == '#') continue;

    if (line[0] == '@') {
      std::istringstream tags(line);
      std::string tag;
      while (tags >> tag) {
        if (tag[0] == '#') break;
        if (tag[0] != '@') fail(line_no, "expected a tag, got `" + tag + "`");
        pending_tags.push_back(tag);
      }
      continue;
    }
    if (starts_with(line, "\"\"\"") || starts_with(line, "```")) fail(line_no, "doc strings are not supported");
    if (line[0] == '|') fail(line_no, "data tables are not supported");
    if (starts_with(line, "Scenario Outline:") || starts_with(line, "Scenario Template:") ||
        starts_with(line, "Examples:") || starts_with(line, "Scenarios:")) {
      fail(line_no, "scenario outlines are not supported");
    }
    if (starts_with(line, "Rule:")) fail(line_no, "rules are not supported");

    if (starts_with(line, "Feature:")) {
      if (seen_feature) fail(line_no, "a second Feature");
      seen_feature = true;
      feature.name = detail::trim(line.substr(8));
      feature.tags = std::move(pending_tags);
      pending_tags.clear();
      in = In::Feature;
      in_steps = false;
      steps = nullptr;
      continue;
    }
    if (!seen_feature) fail(line_no, "expected `Feature:`");

    if (starts_with(line, "Background:")) {
      if (!feature.scenarios.empty() || !feature.background.empty() || in == In::Background) {
        fail(line_no, "Background must come once, before the scenarios");
      }
      if (!pending_tags.empty()) fail(line_no, "tags on a Background");
      in = In::Background;
      in_steps = false;
      steps = &feature.background;
      continue;
    }
    if (starts_with(line, "Scenario:") || starts_with(line, "Example:")) {
      Scenario sc;
      sc.name = detail::trim(line.substr(line.find(':') + 1));
      sc.line = line_no;
      sc.tags = std::move(pending_tags);
      pending_tags.clear();
      feature.scenarios.push_back(std::move(sc));
      in = In::Scenario;
      in_steps = false;
      steps = &feature.scenarios.back().steps;
      continue;
    }

    static const char* const keywords[] = {"Given ", "When ", "Then ", "And ", "But ", "* "};
    std::string keyword;
    for (const char* k : keywords) {
      if (starts_with(line, k)) {
        keyword = std::string(k, std::char_traits<char>::length(k) - 1);
        break;
      }
    }
    if (keyword.empty()) {
      // Free text: the description of a Feature, Background or Scenario,
      // allowed before the first step only.
      if (in_steps) fail(line_no, "expected a step, got `" + line + "`");
      continue;
    }
    if (in == In::Feature || steps == nullptr) fail(line_no, "a step outside a Scenario or Background");
    if (!pending_tags.empty()) fail(line_no, "tags on a step");

    Step step;
    step.keyword = keyword;
    step.text = detail::trim(line.substr(keyword.size()));
    step.line = line_no;
    if (keyword == "Given" || keyword == "When" || keyword == "Then") {
      step.kind = keyword;
    } else if (keyword == "*") {
      step.kind.clear();  // matches a definition of any keyword
    } else if (!steps->empty()) {
      step.kind = steps->back().kind;
    } else {
      fail(line_no, "`" + keyword + "` cannot start a Scenario or Background");
    }
    if (step.text.empty()) fail(line_no, "a step with no text");
    steps->push_back(std::move(step));
    in_steps = true;
  }
  if (!seen_feature) throw ParseError(path + ": no `Feature:`");
  if (!pending_tags.empty()) throw ParseError(path + ": tags at the end of the file");
  return feature;
}

/// Reads and parses a .feature file.
inline Feature parse_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ParseError("cannot read " + path);
  std::ostringstream text;
  text << file.rdbuf();
  return parse(text.str(), path);
}

/// Step definitions over a World (one fresh World per scenario). Each is a
/// regular expression that must match the whole step text and a function of
/// the world and the captures (captures[0] is the whole text, then groups).
template <class World>
class Steps {
 public:
  using Captures = std::vector<std::string>;
  using Fn = std::function<void(World&, const Captures&)>;

  Steps& given(const std::string& pattern, Fn fn) { return add("Given", pattern, std::move(fn)); }
  Steps& when(const std::string& pattern, Fn fn) { return add("When", pattern, std::move(fn)); }
  Steps& then(const std::string& pattern, Fn fn) { return add("Then", pattern, std::move(fn)); }
  /// A definition that matches a step of any keyword.
  Steps& step(const std::string& pattern, Fn fn) { return add("", pattern, std::move(fn)); }

  struct Match {
    const Fn* fn = nullptr;
    Captures captures;
    int count = 0;  ///< how many definitions matched (0: undefined, >1: ambiguous)
    std::vector<std::string> patterns;
  };

  Match match(const Step& step) const {
    Match m;
    for (const auto& def : defs_) {
      if (!def.kind.empty() && !step.kind.empty() && def.kind != step.kind) continue;
      std::smatch sm;
      if (std::regex_match(step.text, sm, def.re)) {
        ++m.count;
        m.patterns.push_back(def.pattern);
        if (m.count == 1) {
          m.fn = &def.fn;
          for (const auto& g : sm) m.captures.push_back(g.str());
        }
      }
    }
    return m;
  }

 private:
  struct Def {
    std::string kind;
    std::string pattern;
    std::regex re;
    Fn fn;
  };
  Steps& add(const char* kind, const std::string& pattern, Fn fn) {
    defs_.push_back(Def{kind, pattern, std::regex(pattern, std::regex::ECMAScript), std::move(fn)});
    return *this;
  }
  std::vector<Def> defs_;
};

enum class StepStatus { Passed, Failed, Undefined, Ambiguous, Skipped };

inline const char* to_string(StepStatus s) {
  switch (s) {
    case StepStatus::Passed: return "passed";
    case StepStatus::Failed: return "FAILED";
    case StepStatus::Undefined: return "UNDEFINED";
    case StepStatus::Ambiguous: return "AMBIGUOUS";
    case StepStatus::Skipped: return "skipped";
  }
  return "?";
}

struct StepResult {
  Step step;
  StepStatus status = StepStatus::Skipped;
  std::string message;
};

struct ScenarioResult {
  std::string feature_path;
  std::string name;
  int line = 0;
  std::vector<StepResult> steps;

  /// Every step passed (a scenario with an undefined step has not).
  bool passed() const {
    for (const auto& s : steps) {
      if (s.status != StepStatus::Passed) return false;
    }
    return true;
  }

  /// A Cucumber-like listing of the scenario and each step's outcome.
  std::string report() const {
    std::ostringstream out;
    out << "Scenario: " << name << "  # " << feature_path << ":" << line << "\n";
    for (const auto& s : steps) {
      out << "  [" << to_string(s.status) << "] " << s.step.to_string() << "  # line " << s.step.line << "\n";
      if (!s.message.empty()) out << "      " << s.message << "\n";
    }
    return out.str();
  }
};

/// Runs one scenario (the Background's steps first) on a fresh World. A step
/// fails when its function throws; the steps after a failure are skipped.
template <class World, class MakeWorld>
ScenarioResult run(const Feature& feature, const Scenario& scenario, const Steps<World>& steps,
                   MakeWorld&& make_world) {
  ScenarioResult result;
  result.feature_path = feature.path;
  result.name = scenario.name;
  result.line = scenario.line;
  std::vector<Step> all = feature.background;
  all.insert(all.end(), scenario.steps.begin(), scenario.steps.end());

  auto world = make_world();
  bool failed = false;
  for (const auto& step : all) {
    StepResult r;
    r.step = step;
    if (failed) {
      r.status = StepStatus::Skipped;
      result.steps.push_back(std::move(r));
      continue;
    }
    auto m = steps.match(step);
    if (m.count == 0) {
      r.status = StepStatus::Undefined;
      r.message = "no step definition matches `" + step.to_string() + "`";
    } else if (m.count > 1) {
      r.status = StepStatus::Ambiguous;
      r.message = "several step definitions match:";
      for (const auto& p : m.patterns) r.message += " /" + p + "/";
    } else {
      try {
        (*m.fn)(*world, m.captures);
        r.status = StepStatus::Passed;
      } catch (const std::exception& e) {
        r.status = StepStatus::Failed;
        r.message = e.what();
      } catch (...) {
        r.status = StepStatus::Failed;
        r.message = "unknown exception";
      }
    }
    failed = r.status != StepStatus::Passed;
    result.steps.push_back(std::move(r));
  }
  return result;
}

/// run() with a default-constructed World.
template <class World>
ScenarioResult run(const Feature& feature, const Scenario& scenario, const Steps<World>& steps) {
  return run(feature, scenario, steps, [] { return std::make_unique<World>(); });
}

}  // namespace angzarr::gherkin
