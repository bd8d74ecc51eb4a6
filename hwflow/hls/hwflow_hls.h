// hwflow HLS kernel library: everything.
#ifndef HWFLOW_HLS_H
#define HWFLOW_HLS_H
#include "hwflow_common.h"
#include "hwflow_mvau.h"
#include "hwflow_threshold.h"
#include "hwflow_labelselect.h"
#include "hwflow_dwc.h"
#include "hwflow_pool.h"
#include "hwflow_swg.h"
#include "hwflow_pad.h"
#include "hwflow_streams.h"
#endif
