// The inspector window: docks for the pipeline, loader, histograms and
// anomalies around the sample view and the batch grid. All computation goes
// through Session (background work); this class only displays.
#pragma once

#include <QMainWindow>
#include <QPointer>

#include <memory>
#include <optional>

#include "ui/model/model.h"
#include "ui/widgets/windowparts.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QDockWidget;
class QLayout;
class QListWidget;
class QProgressBar;
class QPushButton;
class QScrollArea;
class QSettings;
class QSpinBox;
class QTreeWidget;
class QTreeWidgetItem;
class QHBoxLayout;
class QMenu;

namespace bs::ui {

class HistogramWidget;
class ImageView;
class PipelinePanel;
class TargetLegend;
class Session;
class StageStrip;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    // `settingsFile` empty = the user's settings; tests pass a file of their own.
    explicit MainWindow(const QString& settingsFile = QString(), QWidget* parent = nullptr);
    ~MainWindow() override;

    void openPath(const QString& path);
    // The demo dataset shipped with the sources (empty when not found).
    static QString demoDatasetPath();
    bool restoredGeometry() const { return restoredGeometry_; }

    Session* session() const { return session_; }
    QListWidget* grid() const { return grid_; }
    PipelinePanel* pipelinePanel() const { return pipeline_; }
    ImageView* rawView() const { return rawView_; }
    ImageView* tensorView() const { return tensorView_; }
    HistogramWidget* rawHistogram() const { return histRaw_; }
    HistogramWidget* tensorHistogram() const { return histTensor_; }
    HistogramWidget* batchHistogram() const { return histBatch_; }
    QTreeWidget* anomalies() const { return anomalies_; }
    const ViewReadouts& readouts() const { return readouts_; }
    StageStrip* stageStrip() const { return strip_; }
    QSpinBox* sampleIndexBox() const { return indexSpin_; }
    // Stage value shown in the sample view: 0 = decoded input, k = after transform k.
    int shownStage() const;
    void setOverlay(bool on);
    void setRangeMode(DisplayRange::Mode mode, double lo = 0, double hi = 1);
    void setChannelSolo(int channel);
    void selectSample(size_t datasetIndex);
    // Probe at tensor pixel (x, y) as if the mouse were there.
    void probeTensor(int x, int y);
    // Composes the screenshot of the selected sample (issue 5).
    QImage composeCurrentScreenshot() const;

public Q_SLOTS:
    void nextBatch();
    void previousBatch();
    void firstBatch();
    void lastBatch();
    void goToBatch(int b);
    void goToSampleIndex(qulonglong index);
    void exportScreenshot();
    // Shows stage value `stage` (0 = input, k = after transform k, -1 = last).
    void showStage(int stage);

protected:
    void closeEvent(QCloseEvent*) override;
    void dragEnterEvent(QDragEnterEvent*) override;
    void dropEvent(QDropEvent*) override;

private:
    // buildUi assembles the window from one builder per panel.
    void buildUi();
    QWidget* buildSampleView();
    QLayout* buildViewTools();
    QWidget* buildImageViews();
    QLayout* buildInfoRows();
    QWidget* buildStageStrip();
    QWidget* buildBatchGrid();
    void buildNavigationBar();
    QDockWidget* addPanelDock(const QString& title, const QString& name, QWidget* panel,
                              Qt::DockWidgetArea area);
    QWidget* buildLoaderPanel();
    QWidget* buildHistogramPanel();
    QWidget* buildAnomalyPanel();
    QLayout* buildAnomalyControls();
    void buildStatusBar();
    void connectDisplayControls();
    void buildMenus();
    void buildFileMenu();
    void buildGoMenu();
    void buildViewMenu();
    void buildHelpMenu();
    void buildPipelineMenu();
    struct PipelineChoice {
        QString text;
        QString origin;  // announced: where the pipeline came from
        bool automatic = false;
    };
    PipelineChoice choosePipeline() const;
    void resetForNewDataset();
    void syncStageMarks();
    void showError(const QString& message);
    void clearError();
    void onOpened();
    void onBatchReady();
    void onSampleReady();
    void refreshGrid();
    void refreshAnomalies();
    void refreshStatus();
    void pushDisplay();
    void pushLoader();
    void applyPipeline();
    void addRecent(const QString& path);
    void rebuildRecentMenu();
    void onHoverTensor(QPointF p, bool inside);
    void onHoverRaw(QPointF p, bool inside);
    // Targets (masks, boxes) of the sample in view: mainwindow_targets.cpp.
    QWidget* buildTargetPanel();
    QImage withTargets(const QImage& img, bool tensor) const;
    QImage thumbWithTargets(const QImage& thumb, size_t sample) const;
    QString targetProbe(int x, int y, bool tensor) const;
    // File > Split for torchvision dataset roots: mainwindow_split.cpp.
    void buildSplitMenu(QMenu* file);
    void refreshSplitMenu();
    void onFindingActivated();
    QTreeWidgetItem* findingItem(const Finding& f, const QColor* sevColor) const;
    QString pipelineKey() const;

    std::unique_ptr<QSettings> settings_;
    Session* session_;
    PipelinePanel* pipeline_;
    QListWidget* grid_;
    ImageView* rawView_;
    ImageView* tensorView_;
    HistogramWidget* histRaw_;
    HistogramWidget* histTensor_;
    HistogramWidget* histBatch_;
    QTreeWidget* anomalies_;
    ViewReadouts readouts_;
    TargetLegend* targetLegend_ = nullptr;
    QLabel* sampleInfo_;
    QLabel* batchLabel_;
    QScrollArea* stripArea_;
    StageStrip* strip_;
    QCheckBox* overlay_;
    QCheckBox* showStrip_;
    QCheckBox* logHist_;
    QComboBox* rangeMode_;
    QComboBox* solo_;
    QDoubleSpinBox* black_;
    QDoubleSpinBox* white_;
    QSpinBox* batchSpin_;
    QSpinBox* indexSpin_;
    QSpinBox* batchSize_;
    QCheckBox* shuffle_;
    QSpinBox* seed_;
    QSpinBox* epoch_;
    QSpinBox* workers_;
    QComboBox* severityFilter_;
    QComboBox* kindFilter_;
    QPushButton* auditButton_;
    QPushButton* auditCancel_;
    QProgressBar* auditProgress_;
    QProgressBar* openProgress_;
    QLabel* statusFormat_;
    QLabel* statusSample_;
    QLabel* statusBatch_;
    QMenu* recentMenu_;
    QMenu* splitMenu_ = nullptr;
    std::optional<size_t> pendingSelect_;
    int selectedRow_ = 0;
    int shownStage_ = -1;    // stage value shown, -1 = the last
    int culpritStage_ = -1;  // transform blamed by the selected finding
    QString auditPath_;      // dataset the running audit is about
    bool updatingControls_ = false;
    bool restoredGeometry_ = false;
    QList<QAction*> backActions_, forwardActions_;
};

}  // namespace bs::ui
