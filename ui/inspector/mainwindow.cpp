#include "ui/inspector/mainwindow.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHash>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPainter>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QStatusBar>
#include <QStyle>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <cmath>

#include "core/dataset/dataset.h"
#include "ui/compare/compareview.h"
#include "ui/dialogs/exportdialogs.h"
#include "ui/model/session.h"
#include "ui/model/stagerange.h"
#include "ui/render/screenshot.h"
#include "ui/widgets/dialogfolders.h"
#include "ui/widgets/histogramwidget.h"
#include "ui/widgets/imageview.h"
#include "ui/widgets/pipelinepanel.h"
#include "ui/widgets/stagestrip.h"
#include "ui/widgets/windowparts.h"

#ifndef BATCHSCOPE_UI_SOURCE_DIR
#define BATCHSCOPE_UI_SOURCE_DIR ""
#endif

namespace bs::ui {

namespace {

constexpr int kRoleIndex = Qt::UserRole;
constexpr int kRoleFinding = Qt::UserRole + 1;
constexpr int kMaxRecent = 10;

QPixmap errorTile(const QString& kind) {
    QPixmap pm(112, 112);
    pm.fill(QColor(70, 28, 30));
    QPainter p(&pm);
    p.setPen(QColor(255, 140, 140));
    QFont f = p.font();
    f.setBold(true);
    p.setFont(f);
    p.drawText(pm.rect().adjusted(6, 6, -6, -6), Qt::AlignCenter | Qt::TextWordWrap,
               QStringLiteral("✕\n%1").arg(QString(kind).replace('_', ' ')));
    return pm;
}

// Light glyphs for the navigation toolbar: the style's media icons are dark
// grey on the dark theme and read as disabled while they work.
enum class NavGlyph { First, Previous, Next, Last };

QPixmap navPixmap(NavGlyph g, const QColor& colour) {
    QPixmap pm(24, 24);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(Qt::NoPen);
    p.setBrush(colour);
    const bool back = g == NavGlyph::First || g == NavGlyph::Previous;
    const bool bar = g == NavGlyph::First || g == NavGlyph::Last;
    auto triangle = [&](double tip, double base) {
        p.drawPolygon(QPolygonF{QPointF(tip, 12), QPointF(base, 5), QPointF(base, 19)});
    };
    if (back) {
        triangle(bar ? 8 : 4, bar ? 15 : 12);
        triangle(bar ? 15 : 12, bar ? 22 : 20);
        if (bar) p.drawRect(QRectF(4, 5, 3, 14));
    } else {
        triangle(bar ? 16 : 20, bar ? 9 : 12);
        triangle(bar ? 9 : 12, bar ? 2 : 4);
        if (bar) p.drawRect(QRectF(17, 5, 3, 14));
    }
    return pm;
}

QIcon navIcon(NavGlyph g) {
    QIcon icon;
    icon.addPixmap(navPixmap(g, QColor(226, 228, 234)), QIcon::Normal);
    icon.addPixmap(navPixmap(g, QColor(96, 98, 106)), QIcon::Disabled);
    return icon;
}

QPixmap withBadge(const QImage& img, int findings, bool selectedStage) {
    QPixmap pm = QPixmap::fromImage(img);
    if (findings <= 0) return pm;
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    const QRectF r(pm.width() - 24, 2, 22, 18);
    p.setBrush(selectedStage ? QColor(255, 150, 40) : QColor(225, 60, 60));
    p.setPen(QPen(QColor(20, 20, 20), 1));
    p.drawRoundedRect(r, 8, 8);
    p.setPen(Qt::white);
    QFont f = p.font();
    f.setBold(true);
    f.setPixelSize(11);
    p.setFont(f);
    p.drawText(r, Qt::AlignCenter, QString::number(findings));
    return pm;
}

}  // namespace

QString MainWindow::demoDatasetPath() {
    QStringList candidates;
    const QString env = qEnvironmentVariable("BATCHSCOPE_DEMO");
    if (!env.isEmpty()) candidates << env;
    const QString exeDir = QCoreApplication::applicationDirPath();
    // Build trees (build-*/app/batchscope), installs (bin/ + share/) and the
    // source tree the binary was configured from.
    candidates << exeDir + "/../../resources/demo" << exeDir + "/../resources/demo"
               << exeDir + "/../share/batchscope/demo" << exeDir + "/resources/demo";
    if (QString(BATCHSCOPE_UI_SOURCE_DIR).size())
        candidates << QStringLiteral(BATCHSCOPE_UI_SOURCE_DIR) + "/resources/demo";
    for (const QString& c : candidates) {
        QFileInfo fi(c);
        if (fi.isDir()) return fi.canonicalFilePath();
    }
    return {};
}

MainWindow::MainWindow(const QString& settingsFile, QWidget* parent)
    : QMainWindow(parent),
      readouts_(QStringLiteral("Move the mouse over an image to probe pixels")) {
    if (settingsFile.isEmpty())
        settings_ =
            std::make_unique<QSettings>(QStringLiteral("batchscope"), QStringLiteral("batchscope"));
    else
        settings_ = std::make_unique<QSettings>(settingsFile, QSettings::IniFormat);
    setDialogFolderSettings(settings_.get());
    session_ = new Session(this);
    setWindowTitle(QStringLiteral("batchscope"));
    setAcceptDrops(true);
    buildUi();
    buildMenus();

    connect(session_, &Session::openProgress, this, [this](qulonglong n) {
        openProgress_->show();
        openProgress_->setFormat(QStringLiteral("listing… %1 files").arg(n));
    });
    connect(session_, &Session::openFailed, this, [this](const QString& m) {
        openProgress_->hide();
        showError(m);
    });
    connect(session_, &Session::opened, this, &MainWindow::onOpened);
    connect(session_, &Session::datasetGrew, this, [this] {
        openProgress_->hide();
        updatingControls_ = true;
        indexSpin_->setRange(0, int(std::max<size_t>(1, session_->dataset()->size()) - 1));
        updatingControls_ = false;
        refreshStatus();
        statusBar()->showMessage(
            QStringLiteral("All shards indexed: %1 samples").arg(session_->dataset()->size()), 15000);
    });
    connect(session_, &Session::batchLoading, this, [this](qulonglong b) {
        statusBatch_->setText(
            QStringLiteral("batch %1/%2 loading…").arg(b + 1).arg(session_->numBatches()));
    });
    connect(session_, &Session::batchReady, this, &MainWindow::onBatchReady);
    connect(session_, &Session::sampleReady, this, &MainWindow::onSampleReady);
    connect(session_, &Session::findingsUpdated, this, [this] {
        refreshGrid();
        refreshAnomalies();
    });
    connect(session_, &Session::pipelineError, this, [this](const QString& m) {
        showError(PipelinePanel::humanError(m));
        pipeline_->showError(PipelinePanel::humanError(m));
    });
    connect(session_, &Session::auditProgress, this, [this](qulonglong d, qulonglong t) {
        auditProgress_->setRange(0, int(t));
        auditProgress_->setValue(int(d));
    });
    connect(session_, &Session::auditFinished, this, [this](bool cancelled) {
        auditButton_->setEnabled(true);
        auditCancel_->setEnabled(false);
        // An audit of the dataset opened before says nothing about this one.
        if (auditPath_ != session_->datasetPath()) return;
        auditProgress_->setFormat(QStringLiteral("%1%2 finding rows · %3")
                                      .arg(cancelled ? QStringLiteral("cancelled: ") : QString())
                                      .arg(session_->auditFindings().size())
                                      .arg(session_->auditSummary()));
        auditProgress_->setValue(auditProgress_->maximum());
        refreshAnomalies();
    });

    // View toggles and loader choices of the last session.
    showStrip_->setChecked(settings_->value("view/stages", true).toBool());
    logHist_->setChecked(settings_->value("view/logHistograms", false).toBool());
    overlay_->setChecked(settings_->value("view/overlay", false).toBool());
    updatingControls_ = true;
    batchSize_->setValue(settings_->value("loader/batchSize", 16).toInt());
    workers_->setValue(settings_->value("loader/workers", LoaderSettings().workers).toInt());
    updatingControls_ = false;
    pushLoader();
    restoredGeometry_ = restoreGeometry(settings_->value("window/geometry").toByteArray());
    restoreState(settings_->value("window/state").toByteArray());
}

MainWindow::~MainWindow() = default;

void MainWindow::buildUi() {
    setCentralWidget(
        splitPair(Qt::Vertical, buildSampleView(), buildBatchGrid(), 3, 1, {600, 250}));
    buildNavigationBar();

    setDockNestingEnabled(true);
    pipeline_ = new PipelinePanel;
    connect(pipeline_, &PipelinePanel::pipelineReplaced, this, [this] {
        // A new pipeline is shown at its output, as when it is first opened.
        shownStage_ = -1;
        culpritStage_ = -1;
    });
    connect(pipeline_, &PipelinePanel::pipelineChanged, this, &MainWindow::applyPipeline);
    // A row picked in the list is the transform whose output is shown.
    connect(pipeline_, &PipelinePanel::stageSelected, this,
            [this](int row) { showStage(row + 1); });
    auto* pipeDock = addPanelDock(QStringLiteral("Pipeline"), QStringLiteral("pipelineDock"),
                                  pipeline_, Qt::LeftDockWidgetArea);
    auto* loaderDock = addPanelDock(QStringLiteral("Loader"), QStringLiteral("loaderDock"),
                                    buildLoaderPanel(), Qt::LeftDockWidgetArea);
    splitDockWidget(pipeDock, loaderDock, Qt::Vertical);
    auto* histDock = addPanelDock(QStringLiteral("Histograms"), QStringLiteral("histogramDock"),
                                  buildHistogramPanel(), Qt::RightDockWidgetArea);
    auto* anomDock = addPanelDock(QStringLiteral("Anomalies"), QStringLiteral("anomalyDock"),
                                  buildAnomalyPanel(), Qt::BottomDockWidgetArea);
    anomDock->setMinimumHeight(120);
    // Stage lines ("interpolation = bilinear") stay whole at 1280 px wide.
    pipeDock->setMinimumWidth(270);
    tabifyDockWidget(histDock, addPanelDock(QStringLiteral("Targets"), QStringLiteral("targetDock"),
                                            buildTargetPanel(), Qt::RightDockWidgetArea));
    histDock->raise();
    // Default proportions once the window has its size (a saved layout
    // restored in the constructor overrides them).
    QTimer::singleShot(0, this, [this, pipeDock, histDock, anomDock, loaderDock] {
        if (settings_->contains("window/state")) return;
        resizeDocks({pipeDock, histDock}, {330, 340}, Qt::Horizontal);
        resizeDocks({anomDock}, {170}, Qt::Vertical);
        resizeDocks({pipeDock, loaderDock}, {520, 190}, Qt::Vertical);
    });
    buildStatusBar();
    connectDisplayControls();
}

// The sample view (centre): error banner, view tools, raw and transformed
// images, range/probe/info lines and the stage strip.
QWidget* MainWindow::buildSampleView() {
    auto* centre = new QWidget;
    auto* cv = new QVBoxLayout(centre);
    cv->setContentsMargins(4, 4, 4, 4);
    cv->setSpacing(4);
    cv->addWidget(readouts_.error);
    cv->addLayout(buildViewTools());
    cv->addWidget(buildImageViews(), 1);
    cv->addLayout(buildInfoRows());
    cv->addWidget(buildStageStrip());
    return centre;
}

QLayout* MainWindow::buildViewTools() {
    auto* tools = new QHBoxLayout;
    connect(addToolButton(tools, QStringLiteral("Fit"), QStringLiteral("Fit (F)")),
            &QToolButton::clicked, this, [this] { tensorView_->fitToView(); });
    connect(addToolButton(tools, QStringLiteral("1:1"), QStringLiteral("Actual pixels (1)")),
            &QToolButton::clicked, this, [this] { tensorView_->oneToOne(); });
    connect(addToolButton(tools, QStringLiteral("−"), QStringLiteral("Zoom out (-)")),
            &QToolButton::clicked, this, [this] { tensorView_->zoomOut(); });
    connect(addToolButton(tools, QStringLiteral("+"), QStringLiteral("Zoom in (+)")),
            &QToolButton::clicked, this, [this] { tensorView_->zoomIn(); });
    tools->addSpacing(12);
    tools->addWidget(new QLabel(QStringLiteral("Channel")));
    solo_ = new QComboBox;
    solo_->addItems(
        {QStringLiteral("RGB"), QStringLiteral("R"), QStringLiteral("G"), QStringLiteral("B")});
    tools->addWidget(solo_);
    tools->addWidget(new QLabel(QStringLiteral("Range")));
    rangeMode_ = new QComboBox;
    rangeMode_->setObjectName(QStringLiteral("rangeMode"));
    rangeMode_->addItems({QStringLiteral("Best-known expected"), QStringLiteral("Sample min/max"),
                          QStringLiteral("Batch min/max"), QStringLiteral("Fixed (absolute)")});
    rangeMode_->setToolTip(
        QStringLiteral("Best-known expected: the range the stage should produce (or what the next "
                       "stage expects); Fixed: the black and white points you set, the same for "
                       "every sample and stage"));
    tools->addWidget(rangeMode_);
    black_ = new QDoubleSpinBox;
    white_ = new QDoubleSpinBox;
    for (auto* s : {black_, white_}) {
        s->setRange(-1e6, 1e6);
        s->setDecimals(4);
        s->setSingleStep(0.1);
        s->setKeyboardTracking(false);
        s->setEnabled(false);
        s->setMaximumWidth(96);
    }
    black_->setToolTip(QStringLiteral("Black point (fixed range)"));
    white_->setToolTip(QStringLiteral("White point (fixed range)"));
    white_->setValue(1);
    tools->addWidget(black_);
    tools->addWidget(white_);
    overlay_ = new QCheckBox(QStringLiteral("Range overlay"));
    overlay_->setToolTip(QStringLiteral("Tint values outside the display range (O)"));
    tools->addWidget(overlay_);
    showStrip_ = new QCheckBox(QStringLiteral("Stages"));
    showStrip_->setToolTip(QStringLiteral("Show every intermediate stage"));
    tools->addWidget(showStrip_);
    tools->addStretch();
    return tools;
}

QWidget* MainWindow::buildImageViews() {
    rawView_ = new ImageView(QStringLiteral("Raw"));
    tensorView_ = new ImageView(QStringLiteral("Transformed"));
    auto* views = new QSplitter(Qt::Horizontal);
    views->addWidget(rawView_);
    views->addWidget(tensorView_);
    views->setChildrenCollapsible(false);
    // Synchronised zoom/pan: whichever view moves, the other follows.
    connect(rawView_, &ImageView::viewChanged, this, [this] { tensorView_->syncFrom(rawView_); });
    connect(tensorView_, &ImageView::viewChanged, this,
            [this] { rawView_->syncFrom(tensorView_); });
    connect(tensorView_, &ImageView::hovered, this, &MainWindow::onHoverTensor);
    connect(rawView_, &ImageView::hovered, this, &MainWindow::onHoverRaw);

    return views;
}

QLayout* MainWindow::buildInfoRows() {
    sampleInfo_ = selectableLabel();
    sampleInfo_->setWordWrap(true);
    auto* rows = new QVBoxLayout;
    auto* infoRow = new QHBoxLayout;
    infoRow->addWidget(readouts_.range, 1);
    infoRow->addWidget(readouts_.legend);
    rows->addLayout(infoRow);
    rows->addWidget(readouts_.probe);
    rows->addWidget(sampleInfo_);
    return rows;
}

QWidget* MainWindow::buildStageStrip() {
    stripArea_ = new QScrollArea;
    strip_ = new StageStrip;
    strip_->setObjectName(QStringLiteral("stageStrip"));
    stripArea_->setWidget(strip_);
    stripArea_->setWidgetResizable(true);
    stripArea_->setFixedHeight(122);
    connect(strip_, &StageStrip::stageClicked, this, &MainWindow::showStage);
    stripArea_->hide();
    connect(showStrip_, &QCheckBox::toggled, stripArea_, &QWidget::setVisible);
    return stripArea_;
}

// The batch grid (below the sample view).
QWidget* MainWindow::buildBatchGrid() {
    grid_ = new QListWidget;
    grid_->setObjectName(QStringLiteral("batchGrid"));
    grid_->setViewMode(QListView::IconMode);
    // Compact tiles, and never less than two rows: at 1280x800 the grid
    // still shows more than one row of the batch.
    grid_->setIconSize(QSize(80, 80));
    grid_->setGridSize(QSize(96, 118));
    grid_->setMinimumHeight(2 * 118 + 2 * grid_->frameWidth() + 4);
    grid_->setMovement(QListView::Static);
    grid_->setResizeMode(QListView::Adjust);
    grid_->setUniformItemSizes(true);
    grid_->setWordWrap(true);
    grid_->setSelectionMode(QAbstractItemView::SingleSelection);
    connect(grid_, &QListWidget::currentRowChanged, this, [this](int row) {
        if (updatingControls_ || row < 0) return;
        selectedRow_ = row;
        const auto idx = grid_->item(row)->data(kRoleIndex).toULongLong();
        session_->requestSample(size_t(idx));
    });

    return grid_;
}

void MainWindow::buildNavigationBar() {
    auto* nav = addToolBar(QStringLiteral("Navigation"));
    nav->setObjectName(QStringLiteral("navigation"));
    nav->setMovable(false);
    auto act = [&](NavGlyph glyph, const QString& text, const QString& tip, auto slot) {
        QAction* a = nav->addAction(navIcon(glyph), text);
        a->setToolTip(tip);
        connect(a, &QAction::triggered, this, slot);
        return a;
    };
    backActions_ << act(NavGlyph::First, QStringLiteral("First"),
                        QStringLiteral("First batch (Home)"), &MainWindow::firstBatch);
    backActions_ << act(NavGlyph::Previous, QStringLiteral("Previous"),
                        QStringLiteral("Previous batch (Left, PageUp)"),
                        &MainWindow::previousBatch);
    // A labelled "go to N" box, starting at `first`; it goes on Return, not on every digit.
    auto goToBox = [&](const QString& label, const QString& tip, int first) {
        nav->addWidget(new QLabel(label));
        auto* box = new QSpinBox;
        box->setRange(first, first);
        box->setKeyboardTracking(false);
        box->setToolTip(tip);
        nav->addWidget(box);
        return box;
    };
    batchSpin_ = goToBox(QStringLiteral(" Batch "), QStringLiteral("Go to batch N (Ctrl+G)"), 1);
    batchLabel_ = new QLabel(QStringLiteral(" / 0 "));
    nav->addWidget(batchLabel_);
    connect(batchSpin_, &QSpinBox::valueChanged, this, [this](int v) {
        if (!updatingControls_) goToBatch(v - 1);
    });
    forwardActions_ << act(NavGlyph::Next, QStringLiteral("Next"),
                           QStringLiteral("Next batch (Right, Space, PageDown)"),
                           &MainWindow::nextBatch);
    forwardActions_ << act(NavGlyph::Last, QStringLiteral("Last"),
                           QStringLiteral("Last batch (End)"), &MainWindow::lastBatch);
    nav->addSeparator();
    indexSpin_ = goToBox(QStringLiteral(" Sample index "),
                         QStringLiteral("Go to dataset index N (Ctrl+I)"), 0);
    connect(indexSpin_, &QSpinBox::valueChanged, this, [this](int v) {
        if (!updatingControls_) goToSampleIndex(qulonglong(v));
    });
}

QDockWidget* MainWindow::addPanelDock(const QString& title, const QString& name, QWidget* panel,
                                      Qt::DockWidgetArea area) {
    auto* d = new QDockWidget(title, this);
    d->setObjectName(name);
    d->setWidget(panel);
    addDockWidget(area, d);
    return d;
}

QWidget* MainWindow::buildLoaderPanel() {
    auto* loaderBox = new QWidget;
    auto* lf = new QFormLayout(loaderBox);
    batchSize_ = new QSpinBox;
    batchSize_->setRange(1, 4096);
    batchSize_->setValue(16);
    shuffle_ = new QCheckBox;
    seed_ = new QSpinBox;
    seed_->setRange(0, 2147483647);
    epoch_ = new QSpinBox;
    epoch_->setRange(0, 100000);
    workers_ = new QSpinBox;
    workers_->setRange(0, 64);
    for (auto* s : {batchSize_, seed_, epoch_, workers_}) {
        s->setKeyboardTracking(false);
        connect(s, &QSpinBox::valueChanged, this, [this] { pushLoader(); });
    }
    connect(shuffle_, &QCheckBox::toggled, this, [this] { pushLoader(); });
    lf->addRow(QStringLiteral("Batch size"), batchSize_);
    lf->addRow(QStringLiteral("Shuffle"), shuffle_);
    lf->addRow(QStringLiteral("Seed"), seed_);
    lf->addRow(QStringLiteral("Epoch"), epoch_);
    lf->addRow(QStringLiteral("Workers"), workers_);
    return loaderBox;
}

QWidget* MainWindow::buildHistogramPanel() {
    auto* hists = new QWidget;
    auto* hv = new QVBoxLayout(hists);
    hv->setContentsMargins(4, 4, 4, 4);
    logHist_ = new QCheckBox(QStringLiteral("Log counts"));
    hv->addWidget(logHist_);
    histRaw_ = new HistogramWidget(QStringLiteral("Raw sample (0..255)"));
    histTensor_ = new HistogramWidget(QStringLiteral("Transformed sample"));
    histBatch_ = new HistogramWidget(QStringLiteral("Whole batch"));
    for (auto* h : {histRaw_, histTensor_, histBatch_}) {
        hv->addWidget(h, 1);
        connect(logHist_, &QCheckBox::toggled, h, &HistogramWidget::setLogScale);
    }
    return hists;
}

QWidget* MainWindow::buildAnomalyPanel() {
    auto* anomBox = new QWidget;
    auto* av = new QVBoxLayout(anomBox);
    av->setContentsMargins(4, 4, 4, 4);
    av->addLayout(buildAnomalyControls());
    anomalies_ = new QTreeWidget;
    anomalies_->setObjectName(QStringLiteral("anomalies"));
    keepArrowKeys(anomalies_);
    // Grouped findings unfold into their samples.
    anomalies_->setRootIsDecorated(true);
    anomalies_->setAlternatingRowColors(true);
    anomalies_->setHeaderLabels({QStringLiteral("Severity"), QStringLiteral("Kind"),
                                 QStringLiteral("Batch"), QStringLiteral("Index"),
                                 QStringLiteral("Stage"), QStringLiteral("Message")});
    anomalies_->header()->setStretchLastSection(true);
    av->addWidget(anomalies_);
    connect(severityFilter_, &QComboBox::currentIndexChanged, this, [this] { refreshAnomalies(); });
    connect(kindFilter_, &QComboBox::currentIndexChanged, this, [this] { refreshAnomalies(); });
    connect(anomalies_, &QTreeWidget::itemActivated, this, [this] { onFindingActivated(); });
    connect(anomalies_, &QTreeWidget::itemClicked, this, [this] { onFindingActivated(); });
    return anomBox;
}

// Filters, the audit button, its progress and Cancel.
QLayout* MainWindow::buildAnomalyControls() {
    auto* ah = new QHBoxLayout;
    severityFilter_ = new QComboBox;
    severityFilter_->addItems({QStringLiteral("All severities"), QStringLiteral("Errors"),
                               QStringLiteral("Warnings and errors")});
    kindFilter_ = new QComboBox;
    kindFilter_->addItem(QStringLiteral("All kinds"));
    auditButton_ = new QPushButton(QStringLiteral("Audit whole dataset"));
    auditButton_->setObjectName(QStringLiteral("auditButton"));
    auditCancel_ = new QPushButton(QStringLiteral("Cancel"));
    auditCancel_->setEnabled(false);
    auditProgress_ = new QProgressBar;
    auditProgress_->setObjectName(QStringLiteral("auditProgress"));
    auditProgress_->setRange(0, 1);
    auditProgress_->setValue(0);
    auditProgress_->setFormat(QStringLiteral("current batch only"));
    ah->addWidget(severityFilter_);
    ah->addWidget(kindFilter_);
    ah->addWidget(auditButton_);
    ah->addWidget(auditProgress_, 1);
    ah->addWidget(auditCancel_);
    connect(auditButton_, &QPushButton::clicked, this, [this] {
        if (!session_->hasDataset()) return;
        if (session_->indexing()) {
            statusBar()->showMessage(
                QStringLiteral("The audit starts once every shard is indexed"), 8000);
            return;
        }
        auditButton_->setEnabled(false);
        auditCancel_->setEnabled(true);
        auditProgress_->setRange(0, int(session_->dataset()->size()));
        auditProgress_->setValue(0);
        auditProgress_->setFormat(QStringLiteral("auditing %v/%m samples"));
        auditPath_ = session_->datasetPath();
        session_->startAudit();
    });
    connect(auditCancel_, &QPushButton::clicked, session_, &Session::cancelAudit);
    return ah;
}

void MainWindow::buildStatusBar() {
    openProgress_ = new QProgressBar;
    openProgress_->setRange(0, 0);
    openProgress_->setMaximumWidth(220);
    openProgress_->setTextVisible(true);
    openProgress_->hide();

    statusFormat_ = new QLabel;
    statusSample_ = new QLabel;
    statusBatch_ = new QLabel;
    statusBar()->addWidget(statusFormat_);
    statusBar()->addWidget(statusSample_, 1);
    statusBar()->addPermanentWidget(openProgress_);
    statusBar()->addPermanentWidget(statusBatch_);
}

// Display controls feed the session.
void MainWindow::connectDisplayControls() {
    connect(solo_, &QComboBox::currentIndexChanged, this, [this] { pushDisplay(); });
    connect(rangeMode_, &QComboBox::currentIndexChanged, this, [this](int i) {
        black_->setEnabled(i == 3);
        white_->setEnabled(i == 3);
        pushDisplay();
    });
    connect(black_, &QDoubleSpinBox::valueChanged, this, [this] { pushDisplay(); });
    connect(white_, &QDoubleSpinBox::valueChanged, this, [this] { pushDisplay(); });
    connect(overlay_, &QCheckBox::toggled, this, [this] {
        // The grid follows once the thumbnails are rendered in the new mode.
        pushDisplay();
    });
}

namespace {

// A menu action whose shortcuts work anywhere in the window.
template <typename Slot>
QAction* addWindowAction(MainWindow* window, QMenu* menu, const QString& text,
                         QList<QKeySequence> keys, Slot slot) {
    QAction* a = menu->addAction(text);
    a->setShortcuts(keys);
    a->setShortcutContext(Qt::WindowShortcut);
    QObject::connect(a, &QAction::triggered, window, slot);
    return a;
}

}  // namespace

void MainWindow::buildMenus() {
    buildFileMenu();
    buildPipelineMenu();
    buildGoMenu();
    buildViewMenu();
    buildHelpMenu();
}

void MainWindow::buildFileMenu() {
    QMenu* file = menuBar()->addMenu(QStringLiteral("&File"));
    QAction* openFolder = file->addAction(QStringLiteral("Open &Folder…"), this, [this] {
        const QString d = QFileDialog::getExistingDirectory(
            this, QStringLiteral("Open dataset folder"), dialogStartDir(QStringLiteral("dataset")));
        if (d.isEmpty()) return;
        rememberDialogFolder(QStringLiteral("dataset"), QFileInfo(d).absolutePath());
        openPath(d);
    });
    openFolder->setShortcut(QKeySequence::Open);
    QAction* openFile = file->addAction(QStringLiteral("Open F&ile…"), this, [this] {
        const QString f = askOpenFile(
            this, QStringLiteral("dataset"), QStringLiteral("Open dataset file"),
            QStringLiteral(
                "Datasets (*.csv *.npy *.npz *.pt *-ubyte *-ubyte.gz *.idx*);;All files (*)"));
        if (!f.isEmpty()) openPath(f);
    });
    openFile->setShortcut(QKeySequence(QStringLiteral("Ctrl+Shift+O")));
    recentMenu_ = file->addMenu(QStringLiteral("Open &Recent"));
    file->addAction(QStringLiteral("Open &Demo Dataset"), this,
                    [this] { openPath(demoDatasetPath()); });
    buildSplitMenu(file);
    file->addSeparator();
    QAction* exp =
        file->addAction(QStringLiteral("&Export Screenshot…"), this, &MainWindow::exportScreenshot);
    exp->setShortcut(QKeySequence(QStringLiteral("Ctrl+E")));
    file->addAction(QStringLiteral("Export &All Anomalies…"), this,
                    [this] { exportAllAnomalies(this, *session_); });
    file->addAction(QStringLiteral("Export &Report (HTML)…"), this,
                    [this] { exportHtmlReport(this, *session_); });
    file->addSeparator();
    QAction* quit = file->addAction(QStringLiteral("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);
    rebuildRecentMenu();
}

void MainWindow::buildGoMenu() {
    QMenu* go = menuBar()->addMenu(QStringLiteral("&Go"));
    addWindowAction(this, go, QStringLiteral("Next Batch"),
                    {Qt::Key_Right, Qt::Key_Space, Qt::Key_PageDown}, &MainWindow::nextBatch);
    addWindowAction(this, go, QStringLiteral("Previous Batch"), {Qt::Key_Left, Qt::Key_PageUp},
                    &MainWindow::previousBatch);
    addWindowAction(this, go, QStringLiteral("First Batch"), {Qt::Key_Home},
                    &MainWindow::firstBatch);
    addWindowAction(this, go, QStringLiteral("Last Batch"), {Qt::Key_End}, &MainWindow::lastBatch);
    addWindowAction(this, go, QStringLiteral("Go to Batch…"),
                    {QKeySequence(QStringLiteral("Ctrl+G"))}, [this] {
                        batchSpin_->setFocus();
                        batchSpin_->selectAll();
                    });
    addWindowAction(this, go, QStringLiteral("Go to Sample Index…"),
                    {QKeySequence(QStringLiteral("Ctrl+I"))}, [this] {
                        indexSpin_->setFocus();
                        indexSpin_->selectAll();
                    });
}

void MainWindow::buildViewMenu() {
    QMenu* view = menuBar()->addMenu(QStringLiteral("&View"));
    addWindowAction(this, view, QStringLiteral("Zoom In"), {Qt::Key_Plus, Qt::Key_Equal},
                    [this] { tensorView_->zoomIn(); });
    addWindowAction(this, view, QStringLiteral("Zoom Out"), {Qt::Key_Minus},
                    [this] { tensorView_->zoomOut(); });
    addWindowAction(this, view, QStringLiteral("Fit"), {Qt::Key_F},
                    [this] { tensorView_->fitToView(); });
    addWindowAction(this, view, QStringLiteral("Actual Pixels (1:1)"), {Qt::Key_1},
                    [this] { tensorView_->oneToOne(); });
    addWindowAction(this, view, QStringLiteral("Toggle Range Overlay"), {Qt::Key_O},
                    [this] { overlay_->toggle(); });
    addWindowAction(this, view, QStringLiteral("Channel: All"), {Qt::Key_A},
                    [this] { solo_->setCurrentIndex(0); });
    addWindowAction(this, view, QStringLiteral("Channel: R"), {Qt::Key_R},
                    [this] { solo_->setCurrentIndex(1); });
    addWindowAction(this, view, QStringLiteral("Channel: G"), {Qt::Key_G},
                    [this] { solo_->setCurrentIndex(2); });
    addWindowAction(this, view, QStringLiteral("Channel: B"), {Qt::Key_B},
                    [this] { solo_->setCurrentIndex(3); });
    view->addSeparator();
    for (QDockWidget* d : findChildren<QDockWidget*>()) view->addAction(d->toggleViewAction());
}

void MainWindow::buildHelpMenu() {
    QMenu* help = menuBar()->addMenu(QStringLiteral("&Help"));
    help->addAction(QStringLiteral("&Shortcuts"), this, [this] {
        QString html = QStringLiteral("<table cellspacing=6>");
        const QList<QPair<QString, QString>> rows = {
            {"Ctrl+O / Ctrl+Shift+O", "Open folder / file"},
            {"Ctrl+L / Ctrl+S", "Load / save the pipeline"},
            {"Ctrl+Shift+V", "Paste a pipeline from torchvision"},
            {"Right, Space, PageDown", "Next batch"},
            {"Left, PageUp", "Previous batch"},
            {"Home / End", "First / last batch"},
            {"Ctrl+G / Ctrl+I", "Go to batch / sample index"},
            {"+ / − / F / 1", "Zoom in / out / fit / 1:1 (views are synchronised)"},
            {"Wheel / drag", "Zoom at the pointer / pan"},
            {"O", "Range overlay on/off"},
            {"A / R / G / B", "Show all channels / solo a channel"},
            {"Ctrl+E", "Export screenshot of the selected sample"},
        };
        for (const auto& r : rows)
            html += QStringLiteral("<tr><td><b>%1</b></td><td>%2</td></tr>").arg(r.first, r.second);
        html += QStringLiteral("</table>");
        QMessageBox::information(this, QStringLiteral("Keyboard shortcuts"), html);
    });
}

void MainWindow::buildPipelineMenu() {
    QMenu* menu = menuBar()->addMenu(QStringLiteral("&Pipeline"));
    menu->setObjectName(QStringLiteral("pipelineMenu"));
    auto add = [&](QMenu* m, const QString& text, const QKeySequence& key, auto slot) {
        QAction* a = m->addAction(text);
        a->setShortcut(key);
        connect(a, &QAction::triggered, pipeline_, slot);
        return a;
    };
    // Ctrl+O opens a dataset; L(oad) is free and Ctrl+S saves, as everywhere.
    add(menu, QStringLiteral("&Load…"), QKeySequence(QStringLiteral("Ctrl+L")),
        &PipelinePanel::loadFile);
    add(menu, QStringLiteral("&Save…"), QKeySequence::Save, &PipelinePanel::saveFile);
    add(menu, QStringLiteral("Paste from &torchvision…"),
        QKeySequence(QStringLiteral("Ctrl+Shift+V")), &PipelinePanel::pasteTorchvision);
    QMenu* presets = menu->addMenu(QStringLiteral("&Presets"));
    for (const QString& name : PipelinePanel::presetNames())
        presets->addAction(name, pipeline_, [this, name] { pipeline_->applyPreset(name); });
}

void MainWindow::rebuildRecentMenu() {
    recentMenu_->clear();
    const QStringList recent = settings_->value("recent").toStringList();
    for (const QString& r : recent) recentMenu_->addAction(r, this, [this, r] { openPath(r); });
    recentMenu_->setEnabled(!recent.isEmpty());
}

void MainWindow::addRecent(const QString& path) {
    QStringList recent = settings_->value("recent").toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > kMaxRecent) recent.removeLast();
    settings_->setValue("recent", recent);
    rebuildRecentMenu();
}

QString MainWindow::pipelineKey() const {
    const QByteArray h =
        QCryptographicHash::hash(session_->datasetPath().toUtf8(), QCryptographicHash::Sha1)
            .toHex();
    return QStringLiteral("pipelines/") + QString::fromLatin1(h.left(16));
}

void MainWindow::openPath(const QString& path) {
    clearError();
    if (path.isEmpty()) {
        showError(QStringLiteral(
            "No dataset given and the demo dataset was not found (set BATCHSCOPE_DEMO)."));
        return;
    }
    // A folder written by batchscope_dump.py opens in the compare window.
    if (CompareView::isDumpFolder(path)) {
        CompareView::openDump(QFileInfo(path).absoluteFilePath(), this);
        return;
    }
    session_->cancelAudit();
    statusFormat_->setText(QStringLiteral("opening %1…").arg(path));
    openProgress_->setFormat(QStringLiteral("opening…"));
    openProgress_->show();
    session_->open(QFileInfo(path).absoluteFilePath());
}

void MainWindow::resetForNewDataset() {
    // Nothing of the previous dataset may stay on screen: its errors, its
    // audit status, the stage and culprit picked for it.
    clearError();
    pipeline_->showError(QString());
    auditButton_->setEnabled(true);
    auditCancel_->setEnabled(false);
    auditProgress_->setRange(0, 1);
    auditProgress_->setValue(0);
    auditProgress_->setFormat(QStringLiteral("current batch only"));
    shownStage_ = -1;
    culpritStage_ = -1;
    pipeline_->markCulprit(-1);
    anomalies_->clear();
}

MainWindow::PipelineChoice MainWindow::choosePipeline() const {
    // A pipeline file beside the dataset (the demo ships one) is the
    // dataset's own record and wins; then the one last used with this path;
    // then a preset that fits the format. Each choice is announced.
    const QString path = session_->datasetPath();
    const QFileInfo fi(path);
    const QString beside = fi.absolutePath() + "/" + fi.fileName() + "-pipeline.json";
    QFile f(beside);
    if (f.open(QIODevice::ReadOnly))
        return {QString::fromUtf8(f.readAll()),
                QStringLiteral("%1 beside the dataset").arg(QFileInfo(beside).fileName()), false};
    const QString saved = settings_->value(pipelineKey()).toString();
    if (!saved.isEmpty())
        return {saved, QStringLiteral("the pipeline last used with this dataset"), false};
    const bool idx = session_->dataset()->format() == bs::DatasetFormat::Idx;
    const QString preset =
        idx ? QStringLiteral("MNIST-style") : QStringLiteral("ImageNet evaluation");
    return {QString::fromStdString(PipelinePanel::presetText(preset)),
            QStringLiteral("preset \u201c%1\u201d, chosen for %2 (none saved for this dataset)")
                .arg(preset, idx ? QStringLiteral("IDX files") : QStringLiteral("image folders")),
            true};
}

void MainWindow::onOpened() {
    openProgress_->hide();
    if (session_->indexing()) {  // the first shard, while the others are indexed
        openProgress_->setFormat(QStringLiteral("indexing the other shards…"));
        openProgress_->show();
    }
    resetForNewDataset();
    const QString path = session_->datasetPath();
    addRecent(path);
    setWindowTitle(QStringLiteral("batchscope — %1").arg(path));
    PipelineChoice choice = choosePipeline();
    QString error;
    if (!pipeline_->setText(choice.text.toStdString(), &error)) {
        const QString preset = QStringLiteral("ImageNet evaluation");
        pipeline_->applyPreset(preset);
        choice.origin = QStringLiteral("preset \u201c%1\u201d, because %2 is invalid: %3")
                            .arg(preset, choice.origin, error);
    }
    pipeline_->setOrigin(choice.origin);
    statusBar()->showMessage(QStringLiteral("Pipeline: %1").arg(choice.origin), 15000);
    updatingControls_ = true;
    indexSpin_->setRange(0, int(std::max<size_t>(1, session_->dataset()->size()) - 1));
    updatingControls_ = false;
    refreshSplitMenu();
    refreshStatus();
}

void MainWindow::applyPipeline() {
    try {
        bs::Pipeline p = bs::Pipeline::parse(pipeline_->pipelineJson());
        if (shownStage_ > int(p.size())) shownStage_ = -1;
        if (culpritStage_ >= int(p.size())) culpritStage_ = -1;
        session_->setPipeline(p);
        if (session_->hasDataset())
            settings_->setValue(pipelineKey(), QString::fromStdString(pipeline_->pipelineJson()));
    } catch (const std::exception& e) {
        pipeline_->showError(PipelinePanel::humanError(QString::fromUtf8(e.what())));
    }
    pushDisplay();
}

void MainWindow::pushLoader() {
    if (updatingControls_) return;
    LoaderSettings s;
    s.batchSize = batchSize_->value();
    s.shuffle = shuffle_->isChecked();
    s.seed = quint64(seed_->value());
    s.epoch = epoch_->value();
    s.workers = workers_->value();
    session_->setLoaderSettings(s);
}

void MainWindow::pushDisplay() {
    DisplaySettings d;
    d.mode = DisplayRange::Mode(rangeMode_->currentIndex());
    d.manualLo = black_->value();
    d.manualHi = white_->value();
    d.solo = solo_->currentIndex() - 1;
    d.overlay = overlay_->isChecked();
    d.stage = shownStage_;
    session_->setDisplay(d);
}

void MainWindow::setOverlay(bool on) {
    overlay_->setChecked(on);
}

void MainWindow::setRangeMode(DisplayRange::Mode mode, double lo, double hi) {
    updatingControls_ = true;
    black_->setValue(lo);
    white_->setValue(hi);
    updatingControls_ = false;
    rangeMode_->setCurrentIndex(int(mode));
    pushDisplay();
}

void MainWindow::setChannelSolo(int c) {
    solo_->setCurrentIndex(c + 1);
}

void MainWindow::nextBatch() {
    goToBatch(int(session_->currentBatch()) + 1);
}
void MainWindow::previousBatch() {
    if (session_->currentBatch() > 0) goToBatch(int(session_->currentBatch()) - 1);
}
void MainWindow::firstBatch() {
    goToBatch(0);
}
void MainWindow::lastBatch() {
    goToBatch(int(session_->numBatches()) - 1);
}

void MainWindow::goToBatch(int b) {
    if (!session_->hasDataset() || b < 0 || size_t(b) >= session_->numBatches()) return;
    session_->requestBatch(size_t(b));
}

void MainWindow::goToSampleIndex(qulonglong index) {
    if (!session_->hasDataset()) return;
    auto b = session_->batchOfIndex(size_t(index));
    if (!b) {
        showError(QStringLiteral("Sample index %1 is not in the dataset (size %2)")
                      .arg(index)
                      .arg(session_->dataset()->size()));
        return;
    }
    pendingSelect_ = size_t(index);
    if (*b == session_->currentBatch() && session_->batchView() &&
        session_->batchView()->number == *b)
        onBatchReady();
    else
        session_->requestBatch(*b);
}

void MainWindow::selectSample(size_t datasetIndex) {
    goToSampleIndex(datasetIndex);
}

void MainWindow::onBatchReady() {
    auto v = session_->batchView();
    if (!v) return;
    updatingControls_ = true;
    batchSpin_->setRange(1, int(std::max<size_t>(1, v->numBatches)));
    batchSpin_->setValue(int(v->number) + 1);
    batchLabel_->setText(QStringLiteral(" / %1 ").arg(v->numBatches));
    for (QAction* a : backActions_) a->setEnabled(v->number > 0);
    for (QAction* a : forwardActions_) a->setEnabled(v->number + 1 < v->numBatches);
    updatingControls_ = false;
    refreshGrid();
    // Select: a requested index, else the same position as before.
    int row = std::min(selectedRow_, grid_->count() - 1);
    if (pendingSelect_) {
        for (int i = 0; i < grid_->count(); ++i)
            if (grid_->item(i)->data(kRoleIndex).toULongLong() == *pendingSelect_) row = i;
        pendingSelect_.reset();
    }
    if (row >= 0) {
        selectedRow_ = row;
        updatingControls_ = true;
        grid_->setCurrentRow(row);
        updatingControls_ = false;
        session_->requestSample(size_t(grid_->item(row)->data(kRoleIndex).toULongLong()));
    }
    if (v->batch && !v->batch->data.empty()) {
        DisplayRange exp;
        const bool known = expectedDisplay(
            expectedRanges(session_->pipeline(), session_->dataset()->hasRaw()).back(), exp);
        histBatch_->setHistogram(v->histogram,
                                 known ? std::optional<DisplayRange>(exp) : std::nullopt);
    } else {
        histBatch_->clear();
    }
    refreshAnomalies();
    refreshStatus();
}

void MainWindow::refreshGrid() {
    auto v = session_->batchView();
    if (!v || !v->batch) return;
    const auto* ds = session_->dataset();
    const auto classes = ds ? ds->classes() : std::vector<std::string>{};
    const bool wasUpdating = updatingControls_;
    updatingControls_ = true;
    const int keep = grid_->currentRow();
    grid_->clear();
    const auto& samples = v->batch->samples;
    for (size_t i = 0; i < samples.size(); ++i) {
        const auto& rec = samples[i];
        QString label;
        if (rec.label >= 0)
            label = size_t(rec.label) < classes.size()
                        ? QString::fromStdString(classes[size_t(rec.label)])
                        : QString::number(rec.label);
        auto* item = new QListWidgetItem(QStringLiteral("#%1\n%2").arg(rec.index).arg(label));
        const QImage img = i < v->thumbs.size() ? v->thumbs[i] : QImage();
        const int nf = i < v->findingCount.size() ? v->findingCount[i] : 0;
        if (!rec.error.empty() || img.isNull())
            item->setIcon(QIcon(errorTile(
                QString::fromStdString(rec.error.empty() ? "no tensor" : rec.errorKind))));
        else
            item->setIcon(QIcon(withBadge(thumbWithTargets(img, i), nf, false)));
        item->setData(kRoleIndex, qulonglong(rec.index));
        QString tip = QString::fromStdString(rec.path);
        if (!rec.error.empty()) tip += "\n" + QString::fromStdString(rec.error);
        if (nf) tip += QStringLiteral("\n%1 finding(s)").arg(nf);
        item->setToolTip(tip);
        grid_->addItem(item);
    }
    if (keep >= 0 && keep < grid_->count()) grid_->setCurrentRow(keep);
    updatingControls_ = wasUpdating;
}

void MainWindow::onSampleReady() {
    auto v = session_->sampleView();
    if (!v) return;
    if (!v->raw.isNull())
        rawView_->setImage(withTargets(v->raw, false));
    else
        rawView_->setPlaceholder(
            v->error.isEmpty() ? QStringLiteral("no raw image (stored tensors)") : v->error);
    if (!v->tensor.isNull())
        tensorView_->setImage(withTargets(v->tensor, true));
    else
        tensorView_->setPlaceholder(v->error.isEmpty() ? QStringLiteral("no tensor") : v->error);
    rawView_->syncFrom(tensorView_);
    readouts_.range->setText(
        QStringLiteral("Showing %1 · %2")
            .arg(v->stageName.isEmpty() ? QStringLiteral("the last stage") : v->stageName,
                 v->range.describe()));
    const OverlayColors c;
    auto sw = [](const QColor& col) {
        return QStringLiteral("<span style='color:%1'>■</span>").arg(col.name());
    };
    readouts_.legend->setText(
        QStringLiteral("%1 below %2 &nbsp; %3 above %4 &nbsp; %5 NaN %6 &nbsp; %7 Inf %8")
            .arg(sw(c.below))
            .arg(v->counts.below)
            .arg(sw(c.above))
            .arg(v->counts.above)
            .arg(sw(c.nan))
            .arg(v->counts.nan)
            .arg(sw(c.inf))
            .arg(v->counts.inf) +
        (v->counts.collapsed
             ? QStringLiteral(" &nbsp; %1 <b>collapsed</b>: spread %2% of the range")
                   .arg(sw(c.collapsed))
                   .arg(v->counts.spread * 100, 0, 'g', 2)
             : QString()));
    if (v->result) {
        const auto& rec = v->result->record;
        const auto* ds = session_->dataset();
        const auto classes = ds ? ds->classes() : std::vector<std::string>{};
        QString label = rec.label < 0 ? QStringLiteral("—")
                                      : (size_t(rec.label) < classes.size()
                                             ? QStringLiteral("%1 (%2)")
                                                   .arg(QString::fromStdString(classes[rec.label]))
                                                   .arg(rec.label)
                                             : QString::number(rec.label));
        QString info = QStringLiteral("<b>#%1</b> %2 · label %3 · %4 %5 %6×%7 · tensor %8 · %9 ms")
                           .arg(rec.index)
                           .arg(QString::fromStdString(rec.path).toHtmlEscaped(), label,
                                QString::fromStdString(rec.decode.format),
                                QString::fromStdString(rec.decode.sourceMode))
                           .arg(rec.decode.sourceWidth)
                           .arg(rec.decode.sourceHeight)
                           .arg(QString::fromStdString(bs::shapeToString(v->result->output.shape)))
                           .arg(rec.seconds * 1000, 0, 'f', 1);
        if (!v->error.isEmpty())
            info += QStringLiteral("<br><span style='color:#ff7b72'>%1</span>")
                        .arg(v->error.toHtmlEscaped());
        sampleInfo_->setText(info);
        statusSample_->setText(
            QStringLiteral("%1 · label %2").arg(QString::fromStdString(rec.path), label));
    }
    histRaw_->setHistogram(v->rawHistogram, std::nullopt);
    DisplayRange exp;
    const bool known = v->stage >= 0 && size_t(v->stage) < v->best.size() &&
                       v->best[size_t(v->stage)].known &&
                       expectedDisplay(v->best[size_t(v->stage)].range, exp);
    histTensor_->setHistogram(v->tensorHistogram,
                              known ? std::optional<DisplayRange>(exp) : std::nullopt);
    strip_->setStages(v->strip, v->stripLabels);
    syncStageMarks();
    // The index box names the sample on screen, whichever way it was chosen.
    updatingControls_ = true;
    indexSpin_->setValue(int(v->index));
    updatingControls_ = false;
}

void MainWindow::refreshStatus() {
    statusFormat_->setText(session_->datasetSummary());
    auto v = session_->batchView();
    if (v && v->batch)
        statusBatch_->setText(QStringLiteral("batch %1/%2 · %3 ms")
                                  .arg(v->number + 1)
                                  .arg(v->numBatches)
                                  .arg(v->batch->seconds * 1000, 0, 'f', 0));
}

namespace {

// "4 Normalize" for a transform, else core's stage name ("decode", "collate").
QString stageColumn(const Finding& f, const bs::Pipeline& pipeline) {
    if (f.stageNumber > 0 && size_t(f.stageNumber) <= pipeline.size())
        return QStringLiteral("%1 %2")
            .arg(f.stageNumber)
            .arg(QString::fromStdString(pipeline.stage(size_t(f.stageNumber - 1)).op()));
    return f.stageName.isEmpty() ? QStringLiteral("load") : f.stageName;
}

}  // namespace

void MainWindow::refreshAnomalies() {
    std::vector<Finding> all;
    if (auto v = session_->batchView()) all = v->findings;
    const auto& audit = session_->auditFindings();
    // Audit results replace the batch's own (they include them).
    if (!audit.empty()) all = audit;
    QSet<QString> kinds;
    for (const auto& f : all) kinds.insert(f.kind);
    const QString kindSel =
        kindFilter_->currentIndex() > 0 ? kindFilter_->currentText() : QString();
    {
        QSignalBlocker block(kindFilter_);
        kindFilter_->clear();
        kindFilter_->addItem(QStringLiteral("All kinds"));
        QStringList sorted(kinds.begin(), kinds.end());
        sorted.sort();
        kindFilter_->addItems(sorted);
        const int at = kindFilter_->findText(kindSel);
        kindFilter_->setCurrentIndex(at < 0 ? 0 : at);
    }
    const int sev = severityFilter_->currentIndex();
    anomalies_->clear();
    // Indexed by bs::Severity: info, warning, error.
    static const QColor sevColor[3] = {QColor(140, 180, 255), QColor(240, 190, 80),
                                       QColor(255, 110, 100)};
    // One row per finding group (the same kind, stage and message), which
    // unfolds into its samples: 16 samples of one mode_conversion are one row.
    std::vector<std::vector<const Finding*>> groups;
    QHash<QString, size_t> groupOf;
    for (const Finding& f : all) {
        if (sev == 1 && f.severity != bs::Severity::Error) continue;
        if (sev == 2 && f.severity == bs::Severity::Info) continue;
        if (!kindSel.isEmpty() && f.kind != kindSel) continue;
        const QString key = QStringLiteral("%1|%2|%3|%4|%5")
                                .arg(int(f.severity))
                                .arg(f.kind)
                                .arg(f.stageNumber)
                                .arg(f.stageName, f.message);
        auto it = groupOf.find(key);
        if (it == groupOf.end()) {
            if (groups.size() >= 5000) continue;  // a list longer than this is unreadable anyway
            it = groupOf.insert(key, groups.size());
            groups.emplace_back();
        }
        groups[*it].push_back(&f);
    }
    for (const auto& g : groups) {
        QTreeWidgetItem* top = findingItem(*g.front(), sevColor);
        if (g.size() > 1) {
            top->setText(2, QString());
            top->setText(3, QStringLiteral("%1 samples").arg(g.size()));
            for (const Finding* f : g) top->addChild(findingItem(*f, sevColor));
        }
        anomalies_->addTopLevelItem(top);
    }
    for (int c = 0; c < 5; ++c) anomalies_->resizeColumnToContents(c);
}

QTreeWidgetItem* MainWindow::findingItem(const Finding& f, const QColor* sevColor) const {
    auto* it = new QTreeWidgetItem({QString::fromStdString(bs::severityName(f.severity)), f.kind,
                                    f.batch >= 0 ? QString::number(f.batch + 1) : QString(),
                                    f.index >= 0 ? QString::number(f.index) : QString(),
                                    stageColumn(f, session_->pipeline()), f.message});
    it->setForeground(0, sevColor[int(f.severity)]);
    it->setToolTip(5, f.message + (f.path.isEmpty() ? QString() : "\n" + f.path));
    it->setData(0, kRoleIndex, f.index);
    it->setData(0, kRoleFinding, f.stageNumber - 1);  // transform index, -1 = none
    return it;
}

void MainWindow::onFindingActivated() {
    QTreeWidgetItem* it = anomalies_->currentItem();
    if (!it) return;
    const qint64 index = it->data(0, kRoleIndex).toLongLong();
    // The blamed stage is marked apart from the selection, and shown: its
    // output is where the damage is visible.
    culpritStage_ = it->data(0, kRoleFinding).toInt();
    pipeline_->markCulprit(culpritStage_);
    showStage(culpritStage_ >= 0 ? culpritStage_ + 1 : -1);
    if (index >= 0) goToSampleIndex(qulonglong(index));
}

void MainWindow::showStage(int stage) {
    const int last = int(session_->pipeline().size());
    shownStage_ = stage < 0 || stage >= last ? -1 : stage;
    syncStageMarks();
    pushDisplay();
}

int MainWindow::shownStage() const {
    const int last = int(session_->pipeline().size());
    return shownStage_ < 0 ? last : shownStage_;
}

void MainWindow::syncStageMarks() {
    const int shown = shownStage();
    strip_->setMarks(shown, culpritStage_ >= 0 ? culpritStage_ + 1 : -1);
    // The list selects the transform shown; the decoded input has no row.
    pipeline_->selectStage(shown - 1);
}

void MainWindow::onHoverTensor(QPointF p, bool inside) {
    auto v = session_->sampleView();
    if (!inside || !v || !v->result) {
        rawView_->setMarker(std::nullopt);
        return;
    }
    probeTensor(int(std::floor(p.x())), int(std::floor(p.y())));
}

void MainWindow::probeTensor(int px, int py) {
    auto v = session_->sampleView();
    if (!v || !v->result) return;
    const bs::Tensor& t = v->shown.values.empty() ? v->result->output : v->shown;
    const Planes pl = planesOf(t);
    if (px < 0 || py < 0 || px >= pl.w || py >= pl.h) return;
    QStringList vals;
    for (int c = 0; c < pl.c; ++c)
        vals << formatNumber(t.values[(size_t(c) * pl.h + py) * pl.w + px]);
    QString text = QStringLiteral("tensor (%1,%2) = [%3]").arg(px).arg(py).arg(vals.join(", ")) +
                   targetProbe(px, py, true);
    double x = px, y = py;
    const auto& raw = v->result->raw;
    const size_t k = v->stage < 0 ? session_->pipeline().size() : size_t(v->stage);
    if (!raw.empty() && mapStageToRaw(session_->pipeline(), *v->result, k, x, y)) {
        const int rx = int(std::floor(x + 0.5)), ry = int(std::floor(y + 0.5));
        if (rx >= 0 && ry >= 0 && rx < raw.width && ry < raw.height) {
            QStringList rv;
            for (int c = 0; c < raw.channels; ++c) rv << QString::number(raw.at(ry, rx, c));
            text =
                QStringLiteral("raw (%1,%2) = RGB(%3)   →   ").arg(rx).arg(ry).arg(rv.join(", ")) +
                text;
            rawView_->setMarker(QPointF(x + 0.5, y + 0.5));
        }
    } else {
        text = QStringLiteral("raw: (padding / no mapping)   →   ") + text;
        rawView_->setMarker(std::nullopt);
    }
    readouts_.probe->setText(text);
}

void MainWindow::onHoverRaw(QPointF p, bool inside) {
    auto v = session_->sampleView();
    if (!inside || !v || !v->result || v->result->raw.empty()) return;
    const auto& raw = v->result->raw;
    const int x = int(std::floor(p.x())), y = int(std::floor(p.y()));
    if (x < 0 || y < 0 || x >= raw.width || y >= raw.height) return;
    QStringList rv;
    for (int c = 0; c < raw.channels; ++c) rv << QString::number(raw.at(y, x, c));
    readouts_.probe->setText(
        QStringLiteral("raw (%1,%2) = RGB(%3)").arg(x).arg(y).arg(rv.join(", ")) +
        targetProbe(x, y, false));
}

void MainWindow::showError(const QString& message) {
    readouts_.error->showMessage(message);
    statusBar()->showMessage(message, 8000);
}

void MainWindow::clearError() {
    readouts_.error->clearMessage();
}

QImage MainWindow::composeCurrentScreenshot() const {
    auto v = session_->sampleView();
    if (!v || !v->result) return {};
    const auto& rec = v->result->record;
    // The stage on screen, always with the overlay (the point of the export
    // is to show what is out of range), and the picture says so.
    RenderOptions ro;
    ro.range = v->range;
    ro.solo = solo_->currentIndex() - 1;
    ro.overlay = true;
    ScreenshotInfo info;
    info.overlay = ro.overlay;
    const QImage tensor =
        renderTensor(v->shown.values.empty() ? v->result->output : v->shown, ro, &info.counts);
    info.datasetPath = session_->datasetPath();
    info.filePath = QString::fromStdString(rec.path);
    info.index = qint64(rec.index);
    const auto classes =
        session_->dataset() ? session_->dataset()->classes() : std::vector<std::string>{};
    info.label = rec.label < 0 ? QStringLiteral("—")
                               : (size_t(rec.label) < classes.size()
                                      ? QString::fromStdString(classes[rec.label])
                                      : QString::number(rec.label));
    info.stage = v->stageName.isEmpty()
                     ? stageLabel(session_->pipeline(), session_->pipeline().size())
                     : v->stageName;
    if (auto b = session_->batchView()) {
        QStringList msgs;
        for (const auto& f : b->findings)
            if (f.index == qint64(rec.index)) msgs << f.message;
        info.message = msgs.join("; ");
    }
    if (!rec.error.empty()) info.message = QString::fromStdString(rec.error);
    info.range = v->range.describe();
    DisplayRange exp;
    const bool known = v->stage >= 0 && size_t(v->stage) < v->best.size() &&
                       v->best[size_t(v->stage)].known &&
                       expectedDisplay(v->best[size_t(v->stage)].range, exp);
    return composeScreenshot(withTargets(v->raw, false), withTargets(tensor, true), v->rawHistogram,
                             v->tensorHistogram,
                             known ? std::optional<DisplayRange>(exp) : std::nullopt, info);
}

void MainWindow::exportScreenshot() {
    const QImage img = composeCurrentScreenshot();
    if (img.isNull()) {
        showError(QStringLiteral("Select a sample first (nothing to export)."));
        return;
    }
    auto v = session_->sampleView();
    const QString name = QStringLiteral("batchscope-sample-%1.png").arg(v->index);
    const QString path =
        askSaveFile(this, QStringLiteral("export"), QStringLiteral("Export screenshot"), name,
                    QStringLiteral("PNG (*.png)"));
    if (path.isEmpty()) return;
    if (!img.save(path, "PNG"))
        showError(QStringLiteral("Cannot write %1").arg(path));
    else
        statusBar()->showMessage(QStringLiteral("Saved %1").arg(path), 5000);
}

void MainWindow::closeEvent(QCloseEvent* e) {
    settings_->setValue("window/geometry", saveGeometry());
    settings_->setValue("window/state", saveState());
    settings_->setValue("view/stages", showStrip_->isChecked());
    settings_->setValue("view/logHistograms", logHist_->isChecked());
    settings_->setValue("view/overlay", overlay_->isChecked());
    settings_->setValue("loader/batchSize", batchSize_->value());
    settings_->setValue("loader/workers", workers_->value());
    settings_->sync();
    QMainWindow::closeEvent(e);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
    if (e->mimeData()->hasUrls() && !e->mimeData()->urls().isEmpty() &&
        e->mimeData()->urls().first().isLocalFile())
        e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
    const auto urls = e->mimeData()->urls();
    if (!urls.isEmpty() && urls.first().isLocalFile()) openPath(urls.first().toLocalFile());
}

}  // namespace bs::ui
