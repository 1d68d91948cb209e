// Rules of the reduce family (stub: being written).
#include "ops/rules/rule_util.h"

namespace ops {
void register_reduce_rules() {}
}  // namespace ops
