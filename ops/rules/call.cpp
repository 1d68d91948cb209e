// Rules of the call family (stub: being written).
#include "ops/rules/rule_util.h"

namespace ops {
void register_call_rules() {}
}  // namespace ops
