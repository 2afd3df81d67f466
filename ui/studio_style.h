#pragma once

class QApplication;

namespace sde::ui {

// The studio's look: the Fusion style everywhere, with a dark palette when the system's palette is
// dark or SDE_STUDIO_THEME=dark (SDE_STUDIO_THEME=light keeps the light one). The studio and its
// screenshot tool both call it, so the README's pictures show what a person sees.
void applyStudioStyle(QApplication &app);

} // namespace sde::ui
