// PlanInfo (what a compiled plan does, step by step) is public: include/kiln/inspect.h.
#pragma once
#include "kiln/inspect.h"
