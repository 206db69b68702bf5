/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/policy.h moved to agent/policy/policy.h; test_datapath.c still includes the old path.
 * Remove this file once the datapath tests include the new one.
 */
#include "agent/policy/policy.h"
