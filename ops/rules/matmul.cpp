// Rules of the matmul family (stub: being written).
#include "ops/rules/rule_util.h"

namespace ops {
void register_matmul_rules() {}
}  // namespace ops
