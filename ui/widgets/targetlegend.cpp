#include "ui/widgets/targetlegend.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QIcon>
#include <QLabel>
#include <QPixmap>
#include <QScrollArea>
#include <QSlider>
#include <QVBoxLayout>

#include <functional>

namespace bs::ui {

TargetLegend::TargetLegend(QWidget* parent) : QWidget(parent) {
    auto* top = new QVBoxLayout(this);
    auto* toggles = new QHBoxLayout;
    mask_ = new QCheckBox(QStringLiteral("Show mask"));
    boxes_ = new QCheckBox(QStringLiteral("Show boxes"));
    mask_->setChecked(settings_.showMask);
    boxes_->setChecked(settings_.showBoxes);
    toggles->addWidget(mask_);
    toggles->addWidget(boxes_);
    top->addLayout(toggles);
    auto* op = new QHBoxLayout;
    op->addWidget(new QLabel(QStringLiteral("Mask opacity")));
    opacity_ = new QSlider(Qt::Horizontal);
    opacity_->setRange(0, 100);
    opacity_->setValue(int(settings_.opacity * 100 + 0.5));
    op->addWidget(opacity_);
    top->addLayout(op);
    auto* list = new QWidget;
    classes_ = new QVBoxLayout(list);
    classes_->setContentsMargins(0, 0, 0, 0);
    classes_->addStretch();
    auto* scroll = new QScrollArea;
    scroll->setWidgetResizable(true);
    scroll->setWidget(list);
    top->addWidget(scroll, 1);
    connect(mask_, &QCheckBox::toggled, this,
            [this](bool on) { change([on](auto& s) { s.showMask = on; }); });
    connect(boxes_, &QCheckBox::toggled, this,
            [this](bool on) { change([on](auto& s) { s.showBoxes = on; }); });
    connect(opacity_, &QSlider::valueChanged, this,
            [this](int v) { change([v](auto& s) { s.opacity = v / 100.0; }); });
}

void TargetLegend::change(const std::function<void(TargetOverlaySettings&)>& edit) {
    edit(settings_);
    Q_EMIT settingsChanged(settings_);
}

QWidget* TargetLegend::classRow(int64_t id, const QString& name) {
    auto* row = new QCheckBox(QStringLiteral("%1  %2").arg(id).arg(name));
    QPixmap swatch(14, 14);
    swatch.fill(id == schema_.ignoreIndex ? QColor(Qt::white) : classColor(id));
    row->setIcon(QIcon(swatch));
    row->setChecked(settings_.visible(id));
    connect(row, &QCheckBox::toggled, this, [this, id](bool on) {
        change([id, on](auto& s) {
            if (on)
                s.hiddenClasses.erase(id);
            else
                s.hiddenClasses.insert(id);
        });
    });
    return row;
}

void TargetLegend::setSchema(const bs::TargetSchema& schema) {
    schema_ = schema;
    while (classes_->count() > 1) {  // keep the trailing stretch
        QLayoutItem* it = classes_->takeAt(0);
        delete it->widget();
        delete it;
    }
    std::set<int64_t> known(schema.classIds.begin(), schema.classIds.end());
    if (schema.ignoreIndex >= 0) known.insert(schema.ignoreIndex);
    std::set<int64_t> hidden;
    for (int64_t id : settings_.hiddenClasses)
        if (known.count(id)) hidden.insert(id);
    settings_.hiddenClasses = hidden;
    int at = 0;
    for (int64_t id : schema.classIds)
        classes_->insertWidget(at++, classRow(id, className(schema, id)));
    if (schema.ignoreIndex >= 0)
        classes_->insertWidget(at++, classRow(schema.ignoreIndex, QStringLiteral("ignore")));
    setEnabled(schema.kind != bs::TargetSchema::Kind::None);
}

}  // namespace bs::ui
