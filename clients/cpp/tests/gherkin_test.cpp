// The in-repo Gherkin reader and step runner (angzarr/gherkin.hpp).
#include <angzarr/gherkin.hpp>
#include <gtest/gtest.h>

#include <string>

namespace g = angzarr::gherkin;

namespace {

const char* kFeature = R"(# a comment
@tagged
Feature: Counting
  Some description
  on two lines.

  Background:
    Given a counter at 1

  Scenario: Adding
    When I add 2
    And I add 3
    Then the counter is 6
    But the counter is not 7

  @slow @other
  Scenario: Nothing
    A scenario description.
    * the counter is 1
)";

struct Counter {
  int value = 0;
};

g::Steps<Counter> counter_steps() {
  g::Steps<Counter> steps;
  steps.given(R"(^a counter at (\d+)$)", [](Counter& c, const auto& m) { c.value = std::stoi(m[1]); })
      .when(R"(^I add (\d+)$)", [](Counter& c, const auto& m) { c.value += std::stoi(m[1]); })
      .then(R"(^the counter is (\d+)$)",
            [](Counter& c, const auto& m) {
              if (c.value != std::stoi(m[1])) throw std::runtime_error("counter is " + std::to_string(c.value));
            })
      .step(R"(^the counter is not (\d+)$)", [](Counter& c, const auto& m) {
        if (c.value == std::stoi(m[1])) throw std::runtime_error("it is");
      });
  return steps;
}

g::ScenarioResult run_one(const std::string& text, const g::Steps<Counter>& steps = counter_steps()) {
  auto f = g::parse(text);
  EXPECT_EQ(f.scenarios.size(), 1u);
  return g::run(f, f.scenarios.at(0), steps);
}

}  // namespace

TEST(Gherkin, ParsesFeaturesBackgroundsScenariosAndSteps) {
  const auto f = g::parse(kFeature, "counting.feature");
  EXPECT_EQ(f.name, "Counting");
  EXPECT_EQ(f.tags, std::vector<std::string>{"@tagged"});
  ASSERT_EQ(f.background.size(), 1u);
  EXPECT_EQ(f.background[0].kind, "Given");
  EXPECT_EQ(f.background[0].text, "a counter at 1");
  ASSERT_EQ(f.scenarios.size(), 2u);
  const auto& adding = f.scenarios[0];
  EXPECT_EQ(adding.name, "Adding");
  EXPECT_EQ(adding.line, 10);
  ASSERT_EQ(adding.steps.size(), 4u);
  EXPECT_EQ(adding.steps[1].keyword, "And");
  EXPECT_EQ(adding.steps[1].kind, "When");
  EXPECT_EQ(adding.steps[3].keyword, "But");
  EXPECT_EQ(adding.steps[3].kind, "Then");
  EXPECT_EQ(adding.steps[3].line, 14);
  EXPECT_EQ(f.scenarios[1].tags, (std::vector<std::string>{"@slow", "@other"}));
  EXPECT_EQ(f.scenarios[1].steps.at(0).keyword, "*");
}

TEST(Gherkin, RefusesWhatItDoesNotSupport) {
  const std::string head = "Feature: x\n  Scenario: y\n    Given a counter at 1\n";
  EXPECT_THROW(g::parse(head + "    | a | b |\n"), g::ParseError);
  EXPECT_THROW(g::parse(head + "    \"\"\"\n    text\n    \"\"\"\n"), g::ParseError);
  EXPECT_THROW(g::parse("Feature: x\n  Scenario Outline: y\n    Given a counter at <n>\n"), g::ParseError);
  EXPECT_THROW(g::parse("Feature: x\n  Rule: r\n"), g::ParseError);
  EXPECT_THROW(g::parse(head + "    free text after a step\n"), g::ParseError);
  EXPECT_THROW(g::parse("Scenario: no feature\n"), g::ParseError);
  EXPECT_THROW(g::parse("Feature: x\n  Scenario: y\n    And a counter at 1\n"), g::ParseError);
  EXPECT_THROW(g::parse("Feature: x\n  Given a step outside\n"), g::ParseError);
  EXPECT_THROW(g::parse_file("/nonexistent/x.feature"), g::ParseError);
}

TEST(Gherkin, RunsStepsOnAFreshWorld) {
  const auto f = g::parse(kFeature);
  const auto steps = counter_steps();
  for (const auto& sc : f.scenarios) {
    const auto r = g::run(f, sc, steps);
    EXPECT_TRUE(r.passed()) << r.report();
  }
  EXPECT_EQ(g::run(f, f.scenarios[0], steps).steps.size(), 5u);  // with the background
}

TEST(Gherkin, AnUndefinedStepFails) {
  const auto r = run_one("Feature: x\n  Scenario: y\n    Given a counter at 1\n    When I juggle\n"
                         "    Then the counter is 1\n");
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(r.steps[1].status, g::StepStatus::Undefined);
  EXPECT_EQ(r.steps[2].status, g::StepStatus::Skipped);
  EXPECT_NE(r.report().find("UNDEFINED"), std::string::npos);
}

TEST(Gherkin, KeywordsMatter) {
  // `I add` is defined as a When only.
  const auto r = run_one("Feature: x\n  Scenario: y\n    Given I add 1\n");
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(r.steps[0].status, g::StepStatus::Undefined);
  // step() definitions match any keyword.
  EXPECT_TRUE(run_one("Feature: x\n  Scenario: y\n    Given the counter is not 3\n").passed());
}

TEST(Gherkin, AFailingStepFailsAndSkipsTheRest) {
  const auto r = run_one("Feature: x\n  Scenario: y\n    Given a counter at 1\n    Then the counter is 2\n"
                         "    And the counter is 1\n");
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(r.steps[1].status, g::StepStatus::Failed);
  EXPECT_EQ(r.steps[1].message, "counter is 1");
  EXPECT_EQ(r.steps[2].status, g::StepStatus::Skipped);
}

TEST(Gherkin, AnAmbiguousStepFails) {
  auto steps = counter_steps();
  steps.given(R"(^a counter at 1$)", [](Counter&, const auto&) {});
  const auto r = run_one("Feature: x\n  Scenario: y\n    Given a counter at 1\n", steps);
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(r.steps[0].status, g::StepStatus::Ambiguous);
}
