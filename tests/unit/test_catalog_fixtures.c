/* The catalog fixture harness. */
#include "unit.h"
int main(void) { return 0; }
