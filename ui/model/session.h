// The inspector's state and all of its background work: the open dataset, the
// pipeline, the loader and the jobs that build batches, samples, renders and
// audits. Lives on the GUI thread; the work runs on its own thread pool.
#pragma once

#include <QObject>
#include <QString>

#include <map>
#include <memory>
#include <optional>

#include <nlohmann/json_fwd.hpp>

#include "ui/model/asyncslot.h"
#include "ui/model/model.h"

class QThreadPool;

namespace bs {
class Dataset;
class Loader;
}  // namespace bs

namespace bs::ui {

class Session : public QObject {
    Q_OBJECT
public:
    explicit Session(QObject* parent = nullptr);
    ~Session() override;

    // Starts opening in the background (supersedes an open in progress).
    void open(const QString& path);
    // torchvision dataset roots (MNIST, CIFAR, ...): the split to open,
    // "train" or "test"; empty for the format's default. Reopens the dataset
    // in view; opening another path goes back to the default.
    void setSplit(const QString& split);
    QString split() const { return split_; }
    // A sharded dataset is in view from its first shard while the others are
    // indexed (opened(), then datasetGrew() once they are); no audit until then.
    bool indexing() const { return indexing_; }
    bool hasDataset() const { return bool(dataset_); }
    const bs::Dataset* dataset() const { return dataset_.get(); }
    // Shared ownership for work that may outlive the dataset in view.
    std::shared_ptr<const bs::Dataset> sharedDataset() const { return dataset_; }
    QString datasetPath() const { return path_; }
    QString datasetSummary() const;

    void setPipeline(const bs::Pipeline& pipeline);
    const bs::Pipeline& pipeline() const { return pipeline_; }
    void setLoaderSettings(const LoaderSettings& s);
    const LoaderSettings& loaderSettings() const { return loaderSettings_; }
    void setDisplay(const DisplaySettings& d);
    const DisplaySettings& display() const { return display_; }

    size_t numBatches() const;
    size_t currentBatch() const { return wantedBatch_; }
    std::shared_ptr<const BatchView> batchView() const { return batchView_; }
    std::shared_ptr<const SampleView> sampleView() const { return sampleView_; }
    // Batch containing dataset index `index` in the current order.
    std::optional<size_t> batchOfIndex(size_t index) const;
    // Position of `index` in the current epoch order.
    std::optional<size_t> positionOfIndex(size_t index) const;

    void requestBatch(size_t b);
    // Selects dataset index `index` for the sample view.
    void requestSample(size_t index);
    std::optional<size_t> selectedIndex() const { return selected_; }

    void startAudit();
    void cancelAudit();
    bool auditRunning() const { return auditing_; }
    const std::vector<Finding>& auditFindings() const { return auditFindings_; }
    QString auditSummary() const { return auditSummary_; }
    // The report (core/audit/report.h) of the last audit when it ran to the
    // end on the dataset, pipeline and loader settings in view; else null.
    // Exports read it instead of auditing again.
    std::shared_ptr<const nlohmann::json> finishedAuditReport() const;

    // True while nothing is being computed (tests wait for this).
    bool idle() const;
    quint64 config() const { return config_; }

Q_SIGNALS:
    void openProgress(qulonglong listed);
    void opened();
    // The dataset in view was replaced by a larger one holding the same
    // samples first (all shards indexed); the selection stays.
    void datasetGrew();
    void openFailed(const QString& message);
    void batchLoading(qulonglong number);
    void batchReady();
    // The anomaly engine's verdict on the batch in view arrived (badges,
    // anomalies list); the batch itself did not change.
    void findingsUpdated();
    void sampleReady();
    void pipelineError(const QString& message);
    void auditProgress(qulonglong done, qulonglong total);
    void auditFinished(bool cancelled);
    void busyChanged();

private:
    void openWithSplit(const QString& path, const QString& split);
    void install(std::shared_ptr<const bs::Dataset> ds, const QString& path, bool complete);
    void rebuildLoader();
    void startBatchJob(size_t b, bool prefetch);
    void deliverBatch(std::shared_ptr<const BatchView> v);
    void prefetchNext();
    void renderBatch();
    void renderSample();
    void judgeBatch(std::shared_ptr<const BatchView> v);
    void storeBatch(std::shared_ptr<const BatchView> v);
    void forgetFarResults();
    std::shared_ptr<const bs::SampleResult> keptResult(size_t index) const;

    QThreadPool* pool_;
    AsyncSlot* openSlot_;
    AsyncSlot* batchSlot_;
    AsyncSlot* sampleSlot_;
    AsyncSlot* renderSlot_;
    AsyncSlot* thumbSlot_;
    AsyncSlot* auditSlot_;
    AsyncSlot* judgeSlot_;

    QString path_;
    QString split_;
    bool indexing_ = false;
    int openGeneration_ = 0;  // a preview of a superseded open is dropped
    std::shared_ptr<const bs::Dataset> dataset_;
    bs::Pipeline pipeline_;
    std::vector<ChannelRanges> ranges_;
    LoaderSettings loaderSettings_;
    DisplaySettings display_;
    std::shared_ptr<const bs::Loader> loader_;
    quint64 config_ = 0;  // bumped whenever dataset/pipeline/loader change

    size_t wantedBatch_ = 0;
    std::optional<size_t> runningBatch_;
    std::map<size_t, std::shared_ptr<const BatchView>> cache_;
    std::shared_ptr<const BatchView> batchView_;
    std::optional<size_t> selected_;
    size_t selectedRow_ = 0;  // its position in the batch in view: kept whole in the next
    std::shared_ptr<const SampleView> sampleView_;

    bool auditing_ = false;
    std::vector<Finding> auditFindings_;
    QString auditSummary_;
    std::shared_ptr<const nlohmann::json> auditReport_;
    quint64 auditConfig_ = 0;
};

}  // namespace bs::ui
