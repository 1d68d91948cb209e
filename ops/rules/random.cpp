// Rules of the random family (stub: being written).
#include "ops/rules/rule_util.h"

namespace ops {
void register_random_rules() {}
}  // namespace ops
