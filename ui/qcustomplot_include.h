#pragma once

// qcustomplot.h uses Qt's keywords, which this project turns off (QT_NO_KEYWORDS): they are
// defined for its header alone.
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef slots
#undef emit
#undef foreach
