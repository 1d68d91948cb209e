// Graph printing (jaxpr-like text) and verification.
#include "engine/ir/graph.h"

#include <sstream>

#include "ops/registry.h"

namespace engine {

std::vector<AVal> Graph::input_avals() const {
  std::vector<AVal> a;
  for (int v : inputs) a.push_back(vars[v]);
  return a;
}

std::vector<AVal> Graph::output_avals() const {
  std::vector<AVal> a;
  for (int v : outputs) a.push_back(vars[v]);
  return a;
}

namespace {


std::string literal_text(const Tensor& t) {
  std::ostringstream os;
  os.precision(8);
  os << t.item_as_double() << ":" << dtype_name(t.dtype());
  return os.str();
}

}  // namespace

std::string var_name(int id) {
  std::string s;
  for (int n = id; n >= 0; n = n / 26 - 1) s.push_back(char('a' + n % 26));
  return std::string(s.rbegin(), s.rend());
}

std::string Graph::str(bool with_locations) const {
  // Scalar concrete constants print inline as literals; others are listed as constvars.
  std::vector<int> literal_of(vars.size(), -1);
  for (size_t i = 0; i < consts.size(); ++i)
    if (const_values[i].is_concrete() && const_values[i].numel() == 1 && const_values[i].ndim() == 0)
      literal_of[consts[i]] = static_cast<int>(i);
  auto ref = [&](int v) {
    return literal_of[v] >= 0 ? literal_text(const_values[literal_of[v]]) : var_name(v);
  };
  auto decl = [&](int v) { return var_name(v) + ":" + vars[v].str(); };

  std::ostringstream os;
  os << "{ lambda ";
  bool first = true;
  for (int v : consts)
    if (literal_of[v] < 0) {
      os << (first ? "" : " ") << decl(v);
      first = false;
    }
  os << "; ";
  for (size_t i = 0; i < inputs.size(); ++i) os << (i ? " " : "") << decl(inputs[i]);
  os << ". let\n";
  for (const Equation& eq : eqns) {
    std::string line = "    ";
    for (size_t i = 0; i < eq.outputs.size(); ++i) line += (i ? " " : "") + decl(eq.outputs[i]);
    line += " = ";
    line += ops::prim_name(eq.prim);
    std::string ps = eq.params.str();
    if (!ps.empty()) line += "[" + ps + "]";
    for (int v : eq.inputs) line += " " + ref(v);
    std::string where = format_location(eq.loc);
    if (with_locations && !where.empty()) {
      if (line.size() < 60) line.resize(60, ' ');
      line += "  # " + where;
    }
    os << line << "\n";
  }
  os << "  in (";
  for (size_t i = 0; i < outputs.size(); ++i) os << (i ? ", " : "") << ref(outputs[i]);
  os << ") }";
  return os.str();
}

void Graph::verify() const {
  std::vector<char> defined(vars.size(), 0);
  auto fail = [&](const std::string& what) {
    throw Error(ErrorKind::Internal, "[verify] " + what + "\n" + str());
  };
  auto define = [&](int v, const char* role) {
    if (v < 0 || v >= static_cast<int>(vars.size())) fail(std::string(role) + " names an unknown variable");
    if (defined[v]) fail("variable " + var_name(v) + " is defined twice (SSA violated)");
    defined[v] = 1;
  };
  if (consts.size() != const_values.size()) fail("consts and const_values differ in length");
  for (int v : inputs) define(v, "an input");
  for (size_t i = 0; i < consts.size(); ++i) {
    define(consts[i], "a const");
    if (!(const_values[i].aval() == vars[consts[i]])) fail("const " + var_name(consts[i]) + " has a wrong aval");
  }
  for (size_t k = 0; k < eqns.size(); ++k) {
    const Equation& eq = eqns[k];
    std::vector<AVal> in;
    for (int v : eq.inputs) {
      if (v < 0 || v >= static_cast<int>(vars.size()) || !defined[v])
        fail("equation " + std::to_string(k) + " (" + ops::prim_name(eq.prim) + ") reads an undefined variable");
      in.push_back(vars[v]);
    }
    std::vector<AVal> out;
    try {
      out = ops::def(eq.prim).shape(in, eq.params);
    } catch (const Error& e) {
      fail("equation " + std::to_string(k) + " fails its shape rule: " + e.what());
    }
    if (out.size() != eq.outputs.size()) fail("equation " + std::to_string(k) + " has a wrong output count");
    for (size_t i = 0; i < out.size(); ++i) {
      define(eq.outputs[i], "an output");
      if (!(out[i] == vars[eq.outputs[i]]))
        fail("equation " + std::to_string(k) + " (" + ops::prim_name(eq.prim) + ") output " +
             var_name(eq.outputs[i]) + " is " + vars[eq.outputs[i]].str() + " but the shape rule gives " +
             out[i].str());
    }
  }
  for (int v : outputs)
    if (v < 0 || v >= static_cast<int>(vars.size()) || !defined[v]) fail("an output is undefined");
}

}  // namespace engine
