// Coverage: every primitive has every rule (shape, jvp, vjp, batch, CPU kernel) or a declared reason for its
// absence, and docs/coverage.md matches the registry. QGF_UPDATE_GOLDEN=1 rewrites docs/coverage.md.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "tests/coverage_table.h"
#include "tests/support/testing.h"

#ifndef QGF_SOURCE_DIR
#error "tests/CMakeLists.txt must define QGF_SOURCE_DIR for test_coverage"
#endif

namespace {

namespace fs = std::filesystem;

const fs::path kGolden = fs::path(QGF_SOURCE_DIR) / "docs" / "coverage.md";



// "line N: expected ... / actual ..." for the first differing line.
std::string first_difference(const std::string& expected, const std::string& actual) {
  std::istringstream e(expected), a(actual);
  std::string le, la;
  for (int n = 1;; ++n) {
    bool he = static_cast<bool>(std::getline(e, le)), ha = static_cast<bool>(std::getline(a, la));
    if (!he && !ha) return "the files differ only in line endings or a trailing newline";
    if (le != la || he != ha)
      return "first difference at line " + std::to_string(n) +
             ":\n  docs/coverage.md: " + (he ? le : "<end of file>") +
             "\n  registry:         " + (ha ? la : "<end of file>");
  }
}

TEST(Coverage, EveryRuleOrADeclaredReason) {
  std::string report;
  for (const std::string& g : qgf_coverage::undeclared_gaps()) report += "\n  " + g;
  EXPECT_TRUE(report.empty())
      << "primitives lacking rules without a declared reason (set def.absent_reason[int(Rule::X)] = \"why\" "
         "if the absence is deliberate, otherwise write the rule):"
      << report;
}

TEST(Coverage, GoldenTableMatchesRegistry) {
#ifndef QGF_HAVE_CUDA
  GTEST_SKIP() << "docs/coverage.md describes a build with the CUDA backend; this build has none (every CUDA "
                  "kernel is declared absent, which EveryRuleOrADeclaredReason checks)";
#endif
  const std::string actual = qgf_coverage::coverage_markdown();
  if (testing_support::update_golden_requested()) {
    testing_support::write_file_atomically(kGolden, actual);
    std::cout << "[coverage] wrote " << kGolden << "\n";
    return;
  }
  std::ifstream in(kGolden, std::ios::binary);
  ASSERT_TRUE(in) << kGolden
                  << " is missing. Generate it with:\n  QGF_UPDATE_GOLDEN=1 <build>/tests/test_coverage";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string expected = ss.str();
  EXPECT_TRUE(expected == actual)
      << "docs/coverage.md is out of date with the registry; " << first_difference(expected, actual)
      << "\nIf the change is intended, regenerate the table and commit it:\n"
         "  QGF_UPDATE_GOLDEN=1 <build>/tests/test_coverage   (e.g. build-ci/tests/test_coverage)\n"
         "  git diff docs/coverage.md";
}

}  // namespace
