/* The fixed table of action implementations (act.h), one entry per ActionKind. */
#include "respond/act.h"

static const struct act_ops *const act_table[] = {
	&act_kill_process_ops,		&act_block_address_ops,
	&act_isolate_host_ops,		&act_lock_user_ops,
	&act_remove_authorized_key_ops, &act_quarantine_file_ops,
	&act_restore_file_ops,		&act_apply_fix_ops,
	&act_disable_service_ops,	&act_disable_cron_ops,
	&act_create_account_ops,
};

const struct act_ops *act_lookup(Immune__V1__ActionKind kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(act_table); i++)
		if (act_table[i]->kind == kind)
			return act_table[i];
	return NULL;
}
