// Widget-free drawing of a sample's targets (segmentation mask, boxes) over
// the image they belong to, and the class id under a pixel for the probe.
// Safe off the GUI thread (QImage only) and on the offscreen platform.
#pragma once

#include <QColor>
#include <QImage>
#include <QSize>
#include <QString>

#include <cstdint>
#include <set>

#include "core/target/target.h"

namespace bs::ui {

// What the legend lets the user choose; the views only read it.
struct TargetOverlaySettings {
    bool showMask = true;
    bool showBoxes = true;
    double opacity = 0.5;             // of the mask colours, 0 (invisible) .. 1 (opaque)
    std::set<int64_t> hiddenClasses;  // class ids neither filled nor boxed
    bool visible(int64_t id) const { return hiddenClasses.count(id) == 0; }
};

// A fixed, distinct colour per class id: Pascal VOC's colour map (bits of the
// id spread over the high bits of R, G and B), so VOC masks look as they do
// in every other VOC viewer. Ids outside 0..255 wrap.
QColor classColor(int64_t id);

// "person" for a known id, otherwise the id as text.
QString className(const bs::TargetSchema& schema, int64_t id);

// Paints `target` over `base`, which shows the image the target belongs to
// scaled to any size: `space` is that image's size in pixels (the boxes'
// coordinate space; the mask may have another size and is sampled by
// nearest neighbour). Returns a new ARGB32 image that owns its pixels;
// `base` is not modified. The ignore index is drawn white.
QImage paintTarget(const QImage& base, const bs::Target& target, QSize space,
                   const bs::TargetSchema& schema, const TargetOverlaySettings& settings);

// Class id under pixel (x, y) of the image of size `space` the target belongs
// to, or -1 when there is no mask or the pixel is outside.
int classAt(const bs::Target& target, QSize space, int x, int y);

// "class 15 person" for the probe line, or empty when there is no mask there.
QString probeClassText(const bs::Target& target, QSize space, int x, int y,
                       const bs::TargetSchema& schema);

}  // namespace bs::ui
