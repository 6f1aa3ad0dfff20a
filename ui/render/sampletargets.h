// Which targets of a computed sample belong to which view: the raw view
// shows the decoded image with the input's targets, the transformed view and
// the thumbnails the output tensor with the targets after the last stage.
#pragma once

#include <QImage>
#include <QString>

#include "core/target/target.h"
#include "ui/render/targetoverlay.h"

namespace bs {
struct SampleResult;
}

namespace bs::ui {

// `img` showing the sample's decoded image (raw) or output tensor (tensor),
// at any scale, with the overlay painted; `img` itself when there are no
// targets or the schema has none. The result owns its pixels.
QImage overlayRaw(const QImage& img, const bs::SampleResult& r, const bs::TargetSchema& schema,
                  const TargetOverlaySettings& s);
QImage overlayTensor(const QImage& img, const bs::SampleResult& r, const bs::TargetSchema& schema,
                     const TargetOverlaySettings& s);

// `img` showing stage value `stage` (0 = input) at its own size, with the
// targets kept beside that stage (the output's for the last stage).
QImage overlayStage(const QImage& img, const bs::SampleResult& r, size_t stage,
                    const bs::TargetSchema& schema, const TargetOverlaySettings& s);

// "class 15 person" under pixel (x, y) of the raw image / the tensor, or "".
QString rawClassText(const bs::SampleResult& r, int x, int y, const bs::TargetSchema& schema);
QString tensorClassText(const bs::SampleResult& r, int x, int y, const bs::TargetSchema& schema);

}  // namespace bs::ui
