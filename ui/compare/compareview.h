// The compare window (issue 8): a dump written by python/batchscope_dump.py
// next to batchscope's reproduction of the same samples. The user's tensor,
// the reproduction and a difference heatmap side by side (synchronised
// zoom/pan, one display range for both tensors), the max/mean difference and
// where it is, the compare findings, and stepping through batches/samples.
// Everything heavy (opening, reproducing, the full comparison) is the
// window's DumpSession's (dumpsession.h); the window only shows it.
#pragma once

#include <QMainWindow>
#include <QPixmap>

#include <cstdint>
#include <memory>
#include <vector>

#include "ui/widgets/windowparts.h"

class QComboBox;
class QListWidget;
class QProgressBar;
class QTreeWidget;
class QTreeWidgetItem;

namespace bs {
class CompareSession;
struct CompareReport;
}  // namespace bs

namespace bs::ui {

class DumpSession;
class ImageView;

class CompareView : public QMainWindow {
    Q_OBJECT
public:
    explicit CompareView(QWidget* parent = nullptr);
    ~CompareView() override;

    // A folder holding a batchscope dump manifest.json.
    static bool isDumpFolder(const QString& path);
    // Shows the compare window owned by `owner` (created on first use) and
    // opens `dir` in it.
    static CompareView* openDump(const QString& dir, QWidget* owner);

    // Opens a dump in the background; the overrides are those of
    // `batchscope compare --pipeline/--dataset` (empty = from the manifest).
    void open(const QString& dir, const QString& pipelineFile = QString(),
              const QString& datasetRoot = QString());

    // State for tests and the status line.
    bool idle() const;  // nothing being opened, reproduced or compared
    bool hasSession() const;
    bool reportReady() const;
    size_t numBatches() const;
    size_t currentBatch() const { return batch_; }  // position in the manifest
    int currentRow() const { return row_; }
    int64_t shownIndex() const;                  // dataset index of the shown sample
    std::vector<int64_t> listedIndices() const;  // indices of the sample list
    // Difference of the shown sample (NaN/empty until shown).
    double shownMaxAbs() const;
    double shownMeanAbs() const;
    std::vector<int64_t> shownArgmax() const;
    const ViewReadouts& readouts() const { return readouts_; }
    QString diffText() const { return diffLabel_->text(); }
    ImageView* userView() const { return userView_; }
    ImageView* reproView() const { return reproView_; }
    ImageView* diffView() const { return diffView_; }
    QTreeWidget* findings() const { return findings_; }
    QListWidget* samples() const { return samples_; }
    // Probe at tensor pixel (x, y) as if the mouse were there.
    void probe(int x, int y);

public Q_SLOTS:
    void nextBatch();
    void previousBatch();
    void goToBatch(int b);
    void selectRow(int row);

Q_SIGNALS:
    void opened();
    void sampleShown();
    void reportFinished();

private:
    void buildUi();
    QWidget* buildBatchLists();
    QWidget* buildViews();
    QWidget* buildFindingsPane();
    void connectSelections();
    void buildMenus();
    void onOpened();
    void onOpenFailed(const QString& message);
    void onSampleReady();
    void onThumbsReady();
    void onReportReady();
    void fillBatches();
    void fillSamples();
    void requestSample();
    void requestThumbs();
    void startReport();
    void fillFindings();
    void onFindingActivated(QTreeWidgetItem* item);
    void showError(const QString& message);
    void onHover(QPointF p, bool inside);
    void syncViews(ImageView* from);

    DumpSession* model_;           // the dump, its jobs and results
    std::vector<QPixmap> thumbs_;  // of model_->thumbsBatch(), rows in order
    QString dir_, pipelineFile_, datasetRoot_;
    size_t batch_ = 0;
    int row_ = 0;
    bool syncing_ = false;

    ImageView* userView_;
    ImageView* reproView_;
    ImageView* diffView_;
    QListWidget* batches_;
    QListWidget* samples_;
    QTreeWidget* findings_;
    ViewReadouts readouts_;
    QLabel* header_;
    QLabel* diffLabel_;
    QComboBox* rangeMode_;
    QComboBox* channel_;
    QProgressBar* progress_;
};

}  // namespace bs::ui
