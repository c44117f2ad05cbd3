/* Every unit test includes this first: cmocka needs the standard headers before its own. */
#pragma once

#include "lib/common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>
