/* The fixed table of action implementations (act.h). */
#include "respond/act.h"

static const struct act_ops *const act_table[] = {
	NULL, /* filled by each action's file as it lands */
	&act_block_address_ops,
	&act_isolate_host_ops,
};

const struct act_ops *act_lookup(Immune__V1__ActionKind kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(act_table); i++)
		if (act_table[i] && act_table[i]->kind == kind)
			return act_table[i];
	return NULL;
}
