// The compare window's state and all of its background work, shaped like
// the inspector's Session (ui/model/session.h): the open dump (a
// bs::CompareSession), the full comparison report, the sample in view and
// the thumbnails of a batch, each computed by a job on the session's own
// thread pool through AsyncSlot and announced by a signal. The window
// (compareview.h) only shows what this holds.
#pragma once

#include <QImage>
#include <QObject>
#include <QString>

#include <cstdint>
#include <memory>
#include <vector>

#include "core/common/types.h"
#include "core/compare/compare.h"
#include "ui/render/render.h"

class QThreadPool;

namespace bs::ui {

class AsyncSlot;

// What the three views show for one dumped sample; built on a worker, read
// only afterwards.
struct CompareShown {
    size_t batch = 0;
    int row = 0;
    int64_t index = -1;
    int64_t epoch = 0;
    bs::Tensor user, repro, absDiff;
    bs::TensorDiff diff;
    bool compared = false;  // both tensors exist with the same shape
    DisplayRange range;
    double heatHi = 0;  // heatmap white point
    QImage userImage, reproImage, heatImage;
    QString userError, reproError, note;
};

// Black -> red -> orange -> pale yellow for t in [0, 1] (the heatmap's scale).
QRgb heatColor(double t);

class DumpSession : public QObject {
    Q_OBJECT
public:
    explicit DumpSession(QObject* parent = nullptr);
    ~DumpSession() override;

    // Opens a dump in the background (supersedes everything about the
    // previous one); the overrides are those of `batchscope compare
    // --pipeline/--dataset` (empty = from the manifest).
    void open(const QString& dir, const QString& pipelineFile, const QString& datasetRoot);
    std::shared_ptr<const bs::CompareSession> core() const { return core_; }
    std::shared_ptr<const bs::CompareReport> report() const { return report_; }
    std::shared_ptr<const CompareShown> shown() const { return shown_; }
    size_t numBatches() const;

    // Reproduces and compares row `row` of manifest batch `batch`, rendered
    // with channel `solo` (-1 = all) and, when `expectedRange`, the
    // pipeline's expected output range.
    void requestSample(size_t batch, int row, int solo, bool expectedRange);
    // Thumbnails of the dumped tensors of one batch, rows in order.
    void requestThumbs(size_t batch);
    const std::vector<QImage>& thumbs() const { return thumbs_; }
    size_t thumbsBatch() const { return thumbsBatch_; }
    // The full comparison of every dumped sample.
    void startReport();

    bool idle() const;  // nothing being opened, reproduced or compared

Q_SIGNALS:
    void opened();
    void openFailed(const QString& message);
    void sampleReady();
    void thumbsReady();
    void reportProgress(qulonglong done, qulonglong total);
    void reportReady();

private:
    QThreadPool* pool_;
    AsyncSlot* openSlot_;
    AsyncSlot* sampleSlot_;
    AsyncSlot* thumbSlot_;
    AsyncSlot* reportSlot_;
    std::shared_ptr<const bs::CompareSession> core_;
    std::shared_ptr<const bs::CompareReport> report_;
    std::shared_ptr<const CompareShown> shown_;
    std::vector<QImage> thumbs_;
    size_t thumbsBatch_ = size_t(-1);
};

}  // namespace bs::ui
