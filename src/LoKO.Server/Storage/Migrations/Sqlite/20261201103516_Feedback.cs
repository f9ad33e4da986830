using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LoKO.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Feedback : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "MeanP",
                table: "noise_history",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "ShownLabelIndex",
                table: "examples",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "ShownLoss",
                table: "examples",
                type: "REAL",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "pending_predictions",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    TenantId = table.Column<string>(type: "TEXT", nullable: false),
                    PredictionId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    PayloadKind = table.Column<int>(type: "INTEGER", nullable: false),
                    Payload = table.Column<byte[]>(type: "BLOB", nullable: false),
                    Width = table.Column<int>(type: "INTEGER", nullable: false),
                    Height = table.Column<int>(type: "INTEGER", nullable: false),
                    PredictedIndex = table.Column<int>(type: "INTEGER", nullable: false),
                    ProbabilitiesJson = table.Column<string>(type: "TEXT", nullable: false),
                    AdapterVersion = table.Column<long>(type: "INTEGER", nullable: false),
                    CreatedUtc = table.Column<DateTime>(type: "TEXT", nullable: false),
                    ExpiresUtc = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_pending_predictions", x => x.Id);
                    table.ForeignKey(
                        name: "FK_pending_predictions_tenants_TenantId",
                        column: x => x.TenantId,
                        principalTable: "tenants",
                        principalColumn: "TenantId",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_pending_predictions_TenantId_ExpiresUtc",
                table: "pending_predictions",
                columns: new[] { "TenantId", "ExpiresUtc" });

            migrationBuilder.CreateIndex(
                name: "IX_pending_predictions_TenantId_Id",
                table: "pending_predictions",
                columns: new[] { "TenantId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_pending_predictions_TenantId_PredictionId",
                table: "pending_predictions",
                columns: new[] { "TenantId", "PredictionId" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "pending_predictions");

            migrationBuilder.DropColumn(
                name: "MeanP",
                table: "noise_history");

            migrationBuilder.DropColumn(
                name: "ShownLabelIndex",
                table: "examples");

            migrationBuilder.DropColumn(
                name: "ShownLoss",
                table: "examples");
        }
    }
}
