// The primitive coverage table, rendered from the registry as Markdown: for every primitive its family,
// trait bits, each rule ("yes" or the declared reason it is absent) and the residuals its vjp keeps.
// test_coverage checks it against the golden file docs/coverage.md.
#pragma once
#include <string>
#include <vector>

namespace qgf_coverage {

// The whole of docs/coverage.md.
std::string coverage_markdown();

// "prim: rule, rule" for every primitive that lacks a rule without declaring why; empty when complete.
std::vector<std::string> undeclared_gaps();

}  // namespace qgf_coverage
