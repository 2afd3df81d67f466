#pragma once

#include <QColor>
#include <QString>

class QApplication;
class QCustomPlot;
class QLabel;
class QPalette;
class QWidget;

namespace sde::ui {

// The studio's look: the Fusion style everywhere, with a dark palette when the system's palette is
// dark or SDE_STUDIO_THEME=dark (SDE_STUDIO_THEME=light keeps the light one). The studio and its
// screenshot tool both call it, so the README's pictures show what a person sees.
void applyStudioStyle(QApplication &app);

// The studio's spacing and type scale, which every workspace follows:
// - Spacing: the style's own (Fusion: 6 px between controls, 9 px around a page); nested layouts
//   have no margins of their own; groups of tools on one toolbar are split by separators.
// - Type: all text in the system font's size, so that the user's font setting scales the whole
//   studio; headings (the title of a list or a panel) bold; captions (under an image) in
//   captionColor; figures in tables right-aligned.
// - Pictures: an image sits at the top of its area, centred across it, with its caption right
//   under it (ImageView); the gaps between the cells of a grid and the paper of a plot are the
//   palette's, so that the dark palette has no white frames.

// The color of captions: the window's text color taken a third of the way to its background.
QColor captionColor(const QPalette &palette);
// A heading label (bold, the body size), objectName "heading".
QLabel *makeHeading(const QString &text, QWidget *parent);
// A plot in the palette's colors: the Base color as its paper, WindowText for axes, ticks, labels
// and legend text, a faint grid.
void applyPlotPalette(QCustomPlot *plot, const QPalette &palette);

} // namespace sde::ui
