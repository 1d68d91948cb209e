// Non-template parts of the user-facing transforms.
#include "engine/transforms/transforms.h"

namespace engine::detail {

void check_scalar_loss(const Tensor& loss, const std::source_location& loc) {
  if (loss.ndim() != 0 || !is_float(loss.dtype()))
    raise(ErrorKind::Grad, "grad", "needs a function returning a scalar float; it returned " + loss.aval().str(),
          {{loss.aval()}}, loc,
          "reduce the output to a scalar (e.g. ops::sum or ops::mean), or use vjp/jacrev for non-scalar outputs");
}

}  // namespace engine::detail
