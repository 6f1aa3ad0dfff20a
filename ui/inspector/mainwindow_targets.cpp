// The inspector's targets (segmentation masks, boxes): the legend dock and
// the overlay on the views, thumbnails, probe and screenshot. Kept apart
// from mainwindow.cpp so that the window only calls in at a few points.
#include "core/dataset/dataset.h"
#include "core/loader/loader.h"
#include "ui/inspector/mainwindow.h"
#include "ui/model/session.h"
#include "ui/render/sampletargets.h"
#include "ui/widgets/targetlegend.h"

namespace bs::ui {

QWidget* MainWindow::buildTargetPanel() {
    targetLegend_ = new TargetLegend;
    targetLegend_->setEnabled(false);  // until a dataset with targets is open
    // Only repaints what is already computed: the overlay is drawn on the
    // GUI thread from the kept results, no sample is computed again.
    connect(targetLegend_, &TargetLegend::settingsChanged, this, [this] {
        onSampleReady();
        refreshGrid();
    });
    return targetLegend_;
}

// The sample view's image with its targets, for the raw or the transformed
// view; also keeps the legend's class list in step with the dataset.
QImage MainWindow::withTargets(const QImage& img, bool tensor) const {
    const bs::Dataset* ds = session_->dataset();
    auto v = session_->sampleView();
    if (!targetLegend_ || !ds || !v || !v->result) return img;
    const bs::TargetSchema schema = ds->targetSchema();
    const bs::TargetSchema& shown = targetLegend_->schema();
    if (schema.kind != shown.kind || schema.classIds != shown.classIds ||
        schema.classNames != shown.classNames || schema.ignoreIndex != shown.ignoreIndex)
        targetLegend_->setSchema(schema);
    if (schema.kind == bs::TargetSchema::Kind::None) return img;
    const auto& s = targetLegend_->settings();
    if (!tensor) return overlayRaw(img, *v->result, schema, s);
    // A stage picked in the strip or the list is shown with the targets
    // kept beside that stage, not the output's (other size, other crop).
    if (v->stage >= 0 && size_t(v->stage) < v->result->targets.size())
        return overlayStage(img, *v->result, size_t(v->stage), schema, s);
    return overlayTensor(img, *v->result, schema, s);
}

// Thumbnails show the tensor, so the targets after the last stage; a batch
// whose results were dropped from memory shows its thumbnails bare.
QImage MainWindow::thumbWithTargets(const QImage& thumb, size_t sample) const {
    const bs::Dataset* ds = session_->dataset();
    auto b = session_->batchView();
    if (!targetLegend_ || !ds || !b || !b->results || sample >= b->results->size()) return thumb;
    const bs::TargetSchema schema = ds->targetSchema();
    if (schema.kind == bs::TargetSchema::Kind::None) return thumb;
    return overlayTensor(thumb, (*b->results)[sample], schema, targetLegend_->settings());
}

// "   class 15 person" for the probe line, or "" without a mask there.
QString MainWindow::targetProbe(int x, int y, bool tensor) const {
    const bs::Dataset* ds = session_->dataset();
    auto v = session_->sampleView();
    if (!ds || !v || !v->result) return {};
    const bs::TargetSchema schema = ds->targetSchema();
    if (schema.kind == bs::TargetSchema::Kind::None) return {};
    const QString t =
        tensor ? tensorClassText(*v->result, x, y, schema) : rawClassText(*v->result, x, y, schema);
    return t.isEmpty() ? QString() : QStringLiteral("   ") + t;
}

}  // namespace bs::ui
