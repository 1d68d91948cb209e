// Rules of the elementwise family (stub: being written).
#include "ops/rules/rule_util.h"

namespace ops {
void register_elementwise_rules() {}
}  // namespace ops
