#include "ui/widgets/pipelinepanel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

#include "core/pipeline/pipeline.h"

namespace bs::ui {

using nlohmann::json;

namespace {

// Parameters a freshly added stage starts with (torchvision requires them).
json defaultStage(const std::string& op) {
    json s = {{"op", op}};
    if (op == "Resize")
        s["size"] = 256;
    else if (op == "CenterCrop" || op == "RandomCrop" || op == "RandomResizedCrop")
        s["size"] = 224;
    else if (op == "Pad")
        s["padding"] = 4;
    else if (op == "Normalize") {
        s["mean"] = {0.485, 0.456, 0.406};
        s["std"] = {0.229, 0.224, 0.225};
    } else if (op == "RandomHorizontalFlip" || op == "RandomVerticalFlip")
        s["p"] = 0.5;
    else if (op == "Grayscale")
        s["num_output_channels"] = 1;
    else if (op == "Lambda")
        s["expr"] = "x";
    else if (op == "ConvertImageDtype")
        s["dtype"] = "torch.float32";
    else if (op == "TorchScript")
        s["path"] = "transform.pt";
    return s;
}

json presetJson(const QString& name) {
    if (name == "ImageNet evaluation")
        return json::parse(
            R"([{"op":"Resize","size":256},{"op":"CenterCrop","size":224},{"op":"ToTensor"},
            {"op":"Normalize","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}])");
    if (name == "ImageNet training")
        return json::parse(
            R"([{"op":"RandomResizedCrop","size":224},{"op":"RandomHorizontalFlip","p":0.5},
            {"op":"ToTensor"},{"op":"Normalize","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}])");
    if (name == "MNIST-style")
        return json::parse(
            R"([{"op":"ToTensor"},{"op":"Normalize","mean":[0.1307],"std":[0.3081]}])");
    return json::array();
}

QString stageText(const json& s) {
    QString t = QString::fromStdString(s.value("op", std::string("?")));
    QStringList parts;
    for (auto it = s.begin(); it != s.end(); ++it) {
        if (it.key() == "op" || it.key() == "enabled") continue;
        QString v = QString::fromStdString(it.value().dump());
        if (v.size() > 28) v = v.left(26) + "…";
        parts << QStringLiteral("%1=%2").arg(QString::fromStdString(it.key()), v);
    }
    if (!parts.isEmpty()) t += QStringLiteral("(%1)").arg(parts.join(", "));
    return t;
}

}  // namespace

PipelinePanel::PipelinePanel(QWidget* parent) : QWidget(parent) {
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(6, 6, 6, 6);
    auto* top = new QHBoxLayout;
    presets_ = new QComboBox;
    presets_->addItem(QStringLiteral("Preset…"));
    presets_->addItems(presetNames());
    connect(presets_, &QComboBox::activated, this, [this](int i) {
        if (i > 0) applyPreset(presets_->itemText(i));
        presets_->setCurrentIndex(0);
    });
    auto* fileBtn = new QToolButton;
    fileBtn->setText(QStringLiteral("File"));
    fileBtn->setPopupMode(QToolButton::InstantPopup);
    auto* fileMenu = new QMenu(fileBtn);
    fileMenu->addAction(QStringLiteral("Load JSON…"), this, &PipelinePanel::loadFile);
    fileMenu->addAction(QStringLiteral("Save JSON…"), this, &PipelinePanel::saveFile);
    fileMenu->addAction(QStringLiteral("Paste from torchvision…"), this,
                        &PipelinePanel::pasteTorchvision);
    fileBtn->setMenu(fileMenu);
    top->addWidget(presets_, 1);
    top->addWidget(fileBtn);
    v->addLayout(top);

    list_ = new QListWidget;
    list_->setObjectName(QStringLiteral("pipelineStages"));
    list_->setDragDropMode(QAbstractItemView::NoDragDrop);
    list_->setMinimumHeight(120);
    v->addWidget(list_, 2);
    connect(list_, &QListWidget::currentRowChanged, this, [this] { rebuildForm(); });
    connect(list_, &QListWidget::itemChanged, this, [this](QListWidgetItem* item) {
        if (updating_) return;
        const int row = list_->row(item);
        if (row < 0 || size_t(row) >= stagesJson_.size()) return;
        nlohmann::json s = nlohmann::json::parse(stagesJson_[row]);
        if (item->checkState() == Qt::Checked)
            s.erase("enabled");
        else
            s["enabled"] = false;
        stagesJson_[row] = s.dump();
        commit(row);
    });

    auto* buttons = new QHBoxLayout;
    auto* add = new QToolButton;
    add->setText(QStringLiteral("+ Add"));
    add->setPopupMode(QToolButton::InstantPopup);
    auto* addMenu = new QMenu(add);
    for (const auto& op : bs::Pipeline::supportedOps()) {
        const QString name = QString::fromStdString(op);
        addMenu->addAction(name, this, [this, name] { addStage(name); });
    }
    add->setMenu(addMenu);
    auto mk = [&](const QString& text, const QString& tip) {
        auto* b = new QToolButton;
        b->setText(text);
        b->setToolTip(tip);
        buttons->addWidget(b);
        return b;
    };
    buttons->addWidget(add);
    connect(mk(QStringLiteral("Remove"), QStringLiteral("Remove the selected stage")),
            &QToolButton::clicked, this, [this] {
                const int row = list_->currentRow();
                if (row < 0 || size_t(row) >= stagesJson_.size()) return;
                stagesJson_.erase(stagesJson_.begin() + row);
                commit(std::min(row, int(stagesJson_.size()) - 1));
            });
    connect(mk(QStringLiteral("▲"), QStringLiteral("Move up")), &QToolButton::clicked, this,
            [this] { move(-1); });
    connect(mk(QStringLiteral("▼"), QStringLiteral("Move down")), &QToolButton::clicked, this,
            [this] { move(1); });
    buttons->addStretch();
    v->addLayout(buttons);

    form_ = new QWidget;
    formLayout_ = new QFormLayout(form_);
    formLayout_->setContentsMargins(0, 4, 0, 0);
    v->addWidget(form_, 1);
    error_ = new QLabel;
    error_->setObjectName(QStringLiteral("pipelineError"));
    error_->setWordWrap(true);
    error_->setStyleSheet(QStringLiteral("color: #ff7b72;"));
    error_->hide();
    v->addWidget(error_);
}

QStringList PipelinePanel::presetNames() {
    return {QStringLiteral("ImageNet evaluation"), QStringLiteral("ImageNet training"),
            QStringLiteral("MNIST-style"), QStringLiteral("none")};
}

int PipelinePanel::stageCount() const {
    return int(stagesJson_.size());
}

std::string PipelinePanel::pipelineJson() const {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& s : stagesJson_) a.push_back(nlohmann::json::parse(s));
    return a.dump(2);
}

bool PipelinePanel::setJson(const std::string& text) {
    return setText(text);
}

bool PipelinePanel::setText(const std::string& text, QString* errorOut) {
    try {
        bs::Pipeline p = bs::Pipeline::parse(text);
        nlohmann::json a = p.toJson();
        std::vector<std::string> stages;
        size_t i = 0;
        for (auto& s : a) {
            if (i < p.size() && !p.isEnabled(i)) s["enabled"] = false;
            stages.push_back(s.dump());
            ++i;
        }
        stagesJson_ = stages;
        error_->hide();
        rebuildList(0);
        Q_EMIT pipelineChanged();
        return true;
    } catch (const std::exception& e) {
        showError(QString::fromUtf8(e.what()));
        if (errorOut) *errorOut = QString::fromUtf8(e.what());
        return false;
    }
}

void PipelinePanel::applyPreset(const QString& name) {
    setText(presetJson(name).dump());
}

void PipelinePanel::showError(const QString& message) {
    error_->setText(message);
    error_->setVisible(!message.isEmpty());
}

void PipelinePanel::highlightStage(int stage) {
    for (int i = 0; i < list_->count(); ++i) {
        QListWidgetItem* it = list_->item(i);
        it->setBackground(i == stage ? QColor(120, 60, 20) : QBrush());
    }
    if (stage >= 0 && stage < list_->count()) list_->setCurrentRow(stage);
}

void PipelinePanel::rebuildList(int select) {
    updating_ = true;
    list_->clear();
    for (size_t i = 0; i < stagesJson_.size(); ++i) {
        const nlohmann::json s = nlohmann::json::parse(stagesJson_[i]);
        auto* item = new QListWidgetItem(QStringLiteral("%1  %2").arg(i + 1).arg(stageText(s)));
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        item->setCheckState(s.value("enabled", true) ? Qt::Checked : Qt::Unchecked);
        item->setToolTip(QString::fromStdString(s.dump(2)));
        list_->addItem(item);
    }
    updating_ = false;
    if (select >= 0 && select < list_->count()) list_->setCurrentRow(select);
    rebuildForm();
}

void PipelinePanel::commit(int select) {
    // Validate the whole pipeline before anyone sees it: a bad parameter
    // stays visible in the panel with the core's message, nothing reruns.
    const std::string text = pipelineJson();
    try {
        bs::Pipeline::parse(text);
        error_->hide();
    } catch (const std::exception& e) {
        showError(QString::fromUtf8(e.what()));
        rebuildList(select);
        return;
    }
    rebuildList(select);
    Q_EMIT pipelineChanged();
}

void PipelinePanel::addStage(const QString& op) {
    const int row = list_->currentRow() < 0 ? int(stagesJson_.size()) : list_->currentRow() + 1;
    stagesJson_.insert(stagesJson_.begin() + row, defaultStage(op.toStdString()).dump());
    commit(row);
}

void PipelinePanel::move(int delta) {
    const int row = list_->currentRow();
    const int to = row + delta;
    if (row < 0 || to < 0 || to >= int(stagesJson_.size())) return;
    std::swap(stagesJson_[row], stagesJson_[to]);
    commit(to);
}

void PipelinePanel::rebuildForm() {
    while (formLayout_->rowCount() > 0) formLayout_->removeRow(0);
    const int row = list_->currentRow();
    if (row < 0 || size_t(row) >= stagesJson_.size()) return;
    const nlohmann::json s = nlohmann::json::parse(stagesJson_[row]);
    auto title = new QLabel(
        QStringLiteral("<b>%1</b> parameters").arg(QString::fromStdString(s.value("op", ""))));
    formLayout_->addRow(title);
    // Keys the op accepts but the stage omits are offered too (empty).
    auto setKey = [this, row](const std::string& key, const nlohmann::json& value) {
        nlohmann::json st = nlohmann::json::parse(stagesJson_[row]);
        if (value.is_null())
            st.erase(key);
        else
            st[key] = value;
        stagesJson_[row] = st.dump();
        commit(row);
    };
    for (auto it = s.begin(); it != s.end(); ++it) {
        const std::string key = it.key();
        if (key == "op" || key == "enabled") continue;
        const nlohmann::json& val = it.value();
        QWidget* w = nullptr;
        if (val.is_boolean()) {
            auto* cb = new QCheckBox;
            cb->setChecked(val.get<bool>());
            connect(cb, &QCheckBox::toggled, this, [setKey, key](bool on) { setKey(key, on); });
            w = cb;
        } else if (val.is_number_integer()) {
            auto* sb = new QSpinBox;
            sb->setRange(-1000000, 1000000);
            sb->setValue(val.get<int>());
            sb->setKeyboardTracking(false);
            connect(sb, &QSpinBox::valueChanged, this, [setKey, key](int x) { setKey(key, x); });
            w = sb;
        } else if (val.is_number()) {
            auto* sb = new QDoubleSpinBox;
            sb->setDecimals(5);
            sb->setRange(-1e9, 1e9);
            sb->setSingleStep(0.01);
            sb->setValue(val.get<double>());
            sb->setKeyboardTracking(false);
            connect(sb, &QDoubleSpinBox::valueChanged, this,
                    [setKey, key](double x) { setKey(key, x); });
            w = sb;
        } else {
            // Lists, strings and expressions: edited as JSON (strings plain).
            auto* le =
                new QLineEdit(val.is_string() ? QString::fromStdString(val.get<std::string>())
                                              : QString::fromStdString(val.dump()));
            const bool isString = val.is_string();
            connect(le, &QLineEdit::editingFinished, this, [this, le, setKey, key, isString] {
                const std::string t = le->text().toStdString();
                if (isString) {
                    setKey(key, t);
                    return;
                }
                try {
                    setKey(key, nlohmann::json::parse(t));
                } catch (const std::exception&) {
                    showError(QStringLiteral("%1: not valid JSON (e.g. [0.5, 0.5, 0.5])")
                                  .arg(QString::fromStdString(key)));
                }
            });
            w = le;
        }
        w->setObjectName(QString::fromStdString("param_" + key));
        formLayout_->addRow(QString::fromStdString(key), w);
    }
}

void PipelinePanel::loadFile() {
    const QString path =
        QFileDialog::getOpenFileName(this, QStringLiteral("Load pipeline"), {},
                                     QStringLiteral("Pipeline (*.json *.txt);;All files (*)"));
    if (path.isEmpty()) return;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        showError(QStringLiteral("cannot read %1").arg(path));
        return;
    }
    setText(f.readAll().toStdString());
}

void PipelinePanel::saveFile() {
    const QString path = QFileDialog::getSaveFileName(this, QStringLiteral("Save pipeline"),
                                                      QStringLiteral("pipeline.json"),
                                                      QStringLiteral("JSON (*.json)"));
    if (path.isEmpty()) return;
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) ||
        f.write(QByteArray::fromStdString(pipelineJson() + "\n")) < 0)
        showError(QStringLiteral("cannot write %1").arg(path));
}

void PipelinePanel::pasteTorchvision() {
    QDialog dlg(this);
    dlg.setWindowTitle(QStringLiteral("Paste from torchvision"));
    auto* v = new QVBoxLayout(&dlg);
    v->addWidget(
        new QLabel(QStringLiteral("Paste what <code>print(transform)</code> shows in Python:")));
    auto* edit = new QPlainTextEdit;
    edit->setPlaceholderText(
        "Compose(\n    Resize(size=256, interpolation=bilinear, max_size=None, antialias=None)\n"
        "    CenterCrop(size=(224, 224))\n    ToTensor()\n"
        "    Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])\n)");
    edit->setMinimumSize(520, 200);
    v->addWidget(edit);
    auto* err = new QLabel;
    err->setStyleSheet(QStringLiteral("color: #ff7b72;"));
    err->setWordWrap(true);
    v->addWidget(err);
    auto* bb = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    v->addWidget(bb);
    connect(bb, &QDialogButtonBox::rejected, &dlg, &QDialog::reject);
    connect(bb, &QDialogButtonBox::accepted, &dlg, [&] {
        std::vector<std::string> unknown;
        try {
            bs::Pipeline p =
                bs::Pipeline::fromTorchvisionText(edit->toPlainText().toStdString(), ".", &unknown);
            if (!setText(p.toJson().dump())) return;
            if (!unknown.empty()) {
                QStringList names;
                for (auto& u : unknown) names << QString::fromStdString(u);
                showError(QStringLiteral("skipped stages batchscope cannot reproduce: %1")
                              .arg(names.join(", ")));
            }
            dlg.accept();
        } catch (const std::exception& e) {
            err->setText(QString::fromUtf8(e.what()));
        }
    });
    dlg.exec();
}

}  // namespace bs::ui
