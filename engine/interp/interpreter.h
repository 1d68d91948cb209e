// Interpreters nest by context: each transform installs an interpreter whose parent is the one that was
// current, and ops bind to the current one. An interpreter unpacks its own tracers, treats every other value
// as a constant of its parent's level, and emits the work to its parent. Values of an outer transform are
// therefore constants to an inner one, which rules out perturbation confusion and lets transforms nest
// without special cases.
#pragma once
#include <cstdint>
#include <source_location>
#include <vector>

#include "engine/core/tensor.h"
#include "ops/primitive.h"

namespace engine {

class Interpreter {
 public:
  explicit Interpreter(Interpreter* parent);
  virtual ~Interpreter() = default;
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  virtual std::vector<Tensor> process(ops::Prim prim, const std::vector<Tensor>& inputs,
                                      const ops::Params& params) = 0;
  virtual const char* kind() const = 0;  // "eval", "trace", "jvp", "batch"

  uint64_t id() const { return id_; }
  Interpreter* parent() const { return parent_; }
  int depth() const { return depth_; }

  // The tracer payload of t if this interpreter owns it; null if t is concrete or owned by an ancestor
  // (a constant at this level). Throws ErrorKind::EscapedTracer if t's owner is neither.
  Tracer* owned(const Tensor& t, ops::Prim prim) const;

 private:
  Interpreter* parent_;
  uint64_t id_;
  int depth_;
};

Interpreter* current_interpreter();

// Number of primitives the root evaluator has run on this thread (tests use it to prove that vmap issues the
// same number of kernels whatever the batch size, i.e. takes no per-example loop).
uint64_t eval_dispatch_count();
Interpreter* eval_interpreter();  // the root: runs kernels on concrete values

// Makes `interp` current for the scope's lifetime.
class InterpreterScope {
 public:
  explicit InterpreterScope(Interpreter* interp);
  ~InterpreterScope();
  InterpreterScope(const InterpreterScope&) = delete;
  InterpreterScope& operator=(const InterpreterScope&) = delete;

 private:
  Interpreter* saved_;
};

// Applies a primitive to operands under the current interpreter. Operands must already have the shapes and
// dtypes the primitive requires (the public API in ops/api.h broadcasts, promotes and validates first).
std::vector<Tensor> bind(ops::Prim prim, const std::vector<Tensor>& inputs, const ops::Params& params = {});
Tensor bind1(ops::Prim prim, const std::vector<Tensor>& inputs, const ops::Params& params = {});

// The user's source line for the op being issued. The outermost public API call sets it, so the ops that a
// composite or a rule issues report the user's line, not the library's.
const std::source_location& current_user_loc();
class UserLocScope {
 public:
  explicit UserLocScope(const std::source_location& loc, bool force = false);
  ~UserLocScope();
  UserLocScope(const UserLocScope&) = delete;
  UserLocScope& operator=(const UserLocScope&) = delete;

 private:
  bool set_;
  std::source_location saved_;
  bool saved_has_;
};

}  // namespace engine
