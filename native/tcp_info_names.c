/* The names of ka_tcp_info()'s slots, from KA_TCP_INFO_FIELDS: one table for every platform. */
#include "keepalive.h"

#define KA_TI_LINUX_NAME_(slot, name, member, divisor) [KA_TI_##slot] = #name,
#define KA_TI_OTHER_NAME_(slot, name) [KA_TI_##slot] = #name,
const char *const ka_tcp_info_names[KA_TCP_INFO_FIELD_COUNT] = {
    KA_TCP_INFO_FIELDS(KA_TI_LINUX_NAME_, KA_TI_OTHER_NAME_)};
