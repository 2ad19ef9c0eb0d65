/* hegraph: neural-network inference on CKKS-encrypted data. Umbrella header. */
#ifndef HEGRAPH_HEGRAPH_H
#define HEGRAPH_HEGRAPH_H

#include "hegraph/hg_common.h"
#include "hegraph/hg_ckks.h"
#include "hegraph/hg_graph.h"
#include "hegraph/hg_he.h"
#include "hegraph/hg_onnx.h"
#include "hegraph/hg_data.h"
#include "hegraph/hg_net.h"

#endif
