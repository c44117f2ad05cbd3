/* The login_defs and pwquality tables: /etc/login.defs ("KEY value") and
 * /etc/security/pwquality.conf plus pwquality.conf.d/NAME.conf ("key = value"). */
#include "inventory/collectors.h"
#include "inventory/kvconf.h"

void collect_login_defs(struct inv_ctx *ctx)
{
	inv_kv_file(ctx, "login_defs", "/etc/login.defs", KV_SPACE);
}

void collect_pwquality(struct inv_ctx *ctx)
{
	inv_kv_file(ctx, "pwquality", "/etc/security/pwquality.conf", KV_EQUALS);
	inv_kv_glob(ctx, "pwquality", "/etc/security/pwquality.conf.d/*.conf", KV_EQUALS);
}
