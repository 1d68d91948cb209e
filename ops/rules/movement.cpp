// Rules of the movement family (stub: being written).
#include "ops/rules/rule_util.h"

namespace ops {
void register_movement_rules() {}
}  // namespace ops
