/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/events.h moved to agent/datapath/events.h; test_datapath.c still includes the old path.
 * Remove this file once the datapath tests include the new one.
 */
#include "agent/datapath/events.h"
