// Renders the registry as the Markdown coverage table of docs/coverage.md. Everything here is derived from
// ops::def(p), so the table cannot drift from the code without the golden-file test noticing.
#include "tests/coverage_table.h"

#include <array>
#include <cstdint>

#include "ops/registry.h"

namespace qgf_coverage {

namespace {

using ops::Prim;
using ops::PrimDef;
using ops::Rule;

constexpr std::array<Rule, ops::kNumRules> kRules = {Rule::Shape, Rule::Jvp,       Rule::Vjp,
                                                     Rule::Batch, Rule::CpuKernel, Rule::CudaKernel};

// Table cells are one line and must not contain an unescaped '|'.
std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else {
      out += (c == '\n' || c == '\r') ? ' ' : c;
    }
  }
  return out;
}

std::string traits_of(uint32_t t) {
  static const std::pair<uint32_t, const char*> names[] = {{ops::kElementwise, "elementwise"},
                                                           {ops::kLinear, "linear"},
                                                           {ops::kReduction, "reduction"},
                                                           {ops::kMovement, "movement"},
                                                           {ops::kRandom, "random"},
                                                           {ops::kNonDifferentiable, "nondiff"},
                                                           {ops::kView, "view"}};
  std::string s;
  for (const auto& [bit, name] : names)
    if (t & bit) s += (s.empty() ? "" : ", ") + std::string(name);
  return s.empty() ? "-" : s;
}

std::string rule_cell(const PrimDef& d, Rule r) {
  if (d.has(r)) return "yes";
  const std::string& why = d.absent_reason[static_cast<int>(r)];
  return why.empty() ? "**MISSING**" : "no: " + cell(why);
}

// Which residuals the backward pass keeps for this primitive (vjp_reads_inputs / vjp_reads_outputs).
std::string residuals_of(const PrimDef& d) {
  if (!d.has(Rule::Vjp)) return "-";
  std::string s;
  if (d.vjp_reads_inputs == ~0u) {
    s = "all inputs";
  } else {
    for (int i = 0; i < 32; ++i)
      if ((d.vjp_reads_inputs >> i) & 1u) s += (s.empty() ? "in" : ", in") + std::to_string(i);
  }
  if (d.vjp_reads_outputs) s += s.empty() ? "outs" : ", outs";
  return s.empty() ? "none" : s;
}

}  // namespace

std::vector<std::string> undeclared_gaps() {
  std::vector<std::string> gaps;
  for (int i = 0; i < ops::kNumPrims; ++i) {
    const PrimDef& d = ops::def(static_cast<Prim>(i));
    std::string missing;
    for (Rule r : kRules)
      if (!d.has(r) && d.absent_reason[static_cast<int>(r)].empty())
        missing += (missing.empty() ? "" : ", ") + std::string(ops::rule_name(r));
    if (!missing.empty()) gaps.push_back(std::string(d.name) + ": " + missing);
  }
  return gaps;
}

std::string coverage_markdown() {
  std::string md =
      "# Primitive coverage\n"
      "\n"
      "<!-- Generated from the registry by tests/coverage_table.cpp. Do not edit by hand:\n"
      "     after changing rules, run `QGF_UPDATE_GOLDEN=1 build-ci/tests/test_coverage`\n"
      "     and review the diff. -->\n"
      "\n"
      "Every primitive, its family (rules are derived per family in `ops/rules/<family>.cpp`),\n"
      "its trait bits, and for each rule either `yes` or the reason it is deliberately absent.\n"
      "`vjp reads` lists the residuals the reverse pass keeps for it (`inK` = input K, `outs` =\n"
      "its outputs); everything else is freed after the forward pass. The test\n"
      "`Coverage.EveryRuleOrADeclaredReason` fails when a cell says **MISSING**.\n"
      "\n"
      "The `cuda` column describes a build with the CUDA backend (CMake found nvcc); without it, every\n"
      "CUDA kernel is absent with that reason.\n"
      "\n"
      "| primitive | family | traits | shape | jvp | vjp | batch | cpu | cuda | vjp reads |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n";
  int have[ops::kNumRules] = {};
  for (int i = 0; i < ops::kNumPrims; ++i) {
    const PrimDef& d = ops::def(static_cast<Prim>(i));
    md += "| `" + std::string(d.name) + "` | " + ops::family_name(d.family) + " | " + traits_of(d.traits) +
          " |";
    for (Rule r : kRules) {
      md += " " + rule_cell(d, r) + " |";
      have[static_cast<int>(r)] += d.has(r) ? 1 : 0;
    }
    md += " " + residuals_of(d) + " |\n";
  }
  md += "\n" + std::to_string(ops::kNumPrims) + " primitives; rules present:";
  for (Rule r : kRules)
    md += std::string(r == kRules[0] ? " " : ", ") + ops::rule_name(r) + " " +
          std::to_string(have[static_cast<int>(r)]);
  md += ".\n";
  return md;
}

}  // namespace qgf_coverage
