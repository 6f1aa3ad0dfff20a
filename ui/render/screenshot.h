// The composed screenshot of one sample (issue 5): raw image, transformed
// tensor with the range overlay, per-channel histograms with the expected
// band and a caption. A plain function on QImage, usable headless on the
// offscreen platform (e.g. by `audit --screenshots`).
#pragma once

#include <QImage>
#include <QString>

#include <optional>

#include "ui/render/render.h"

namespace bs::ui {

struct ScreenshotInfo {
    QString datasetPath;
    QString filePath;
    qint64 index = -1;
    QString label;
    QString stage;    // stage the finding blames (or the final stage)
    QString message;  // the finding's message
    QString range;    // DisplayRange::describe() of the mapping used
    OverlayCounts counts;
    bool overlay = true;  // whether `tensor` carries the range overlay (said in its title)
};

// The caption's text lines (dataset, sample, label and stage, finding, range).
QString captionText(const ScreenshotInfo& info);

// `tensor` carries the overlay when info.overlay says so (renderTensor with
// overlay on); the caption grows to hold every line of text;
// it is enlarged by an integer factor without smoothing (overlay colours and
// pixel squares stay exact) or reduced with smoothing. The raw image is
// smoothly scaled to fit `panel` pixels a side.
QImage composeScreenshot(const QImage& raw, const QImage& tensor, const ChannelHistograms& rawHist,
                         const ChannelHistograms& tensorHist,
                         const std::optional<DisplayRange>& expected, const ScreenshotInfo& info,
                         int panel = 384);

}  // namespace bs::ui
