/* store_routes — verstore's route table (pattern, methods, parameters, handler) and the unknown-parameter check. */
#ifndef VERSYNC_STORE_ROUTES_H
#define VERSYNC_STORE_ROUTES_H

#include "versync/store/store_api.h"
#include "versync/store/store_router.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* BaseRestHandler.unrecognized: 400 when the request carries parameters the
 * endpoint does not know. Returns false (resp filled) in that case. */
bool store_routes_check_params(const store_req *req, const store_match *m, store_resp *resp);

#endif
